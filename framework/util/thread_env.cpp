#include "framework/util/thread_env.hpp"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>

namespace pbench {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

std::vector<std::pair<std::string, std::string>> thread_environment(int threads) {
  std::string t = std::to_string(threads < 1 ? 1 : threads);
  return {{"GOMP_SPINCOUNT", "10000"}, {"OPENBLAS_THREAD_TIMEOUT", "4"}, {"OMP_NUM_THREADS", t},
          {"OPENBLAS_NUM_THREADS", t},  {"MKL_NUM_THREADS", t},          {"PBENCH_THREAD_ENV", "1"}};
}

void ensure_thread_environment(char** argv) {
  if (std::getenv("PBENCH_THREAD_ENV")) return;
  setenv("PBENCH_THREAD_ENV", "1", 1);
  bool changed = false;
  if (!std::getenv("GOMP_SPINCOUNT")) changed |= setenv("GOMP_SPINCOUNT", "10000", 1) == 0;
  if (!std::getenv("OPENBLAS_THREAD_TIMEOUT")) changed |= setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) == 0;
  if (changed) execv("/proc/self/exe", argv);  // on failure carry on with the current environment
}

}  // namespace pbench
