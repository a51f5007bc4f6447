#include "framework/util/bounded_child.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <new>

namespace pbench {
namespace {
// Bytes of address space this process maps now (/proc/self/statm's first field, in pages).
uint64_t mapped_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * uint64_t(sysconf(_SC_PAGESIZE));
}
}  // namespace

ChildEnd run_bounded(const std::function<int()>& work, const ChildLimits& limits) {
  const uint64_t memory = mapped_bytes() + limits.extra_memory_bytes;  // read before fork: no I/O in the child
  const pid_t pid = fork();
  if (pid < 0) return ChildEnd::not_run;
  if (pid == 0) {
    struct rlimit as {rlim_t(memory), rlim_t(memory)};
    setrlimit(RLIMIT_AS, &as);
    signal(SIGALRM, SIG_DFL);
    alarm(limits.wall_seconds);
    int status = 1;
    try {
      status = work();
    } catch (const std::bad_alloc&) {
      status = kChildOutOfMemory;
    } catch (...) {
      status = 1;
    }
    _exit(status);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return ChildEnd::failed;
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM || WTERMSIG(status) == SIGXCPU ? ChildEnd::out_of_time : ChildEnd::failed;
  if (!WIFEXITED(status)) return ChildEnd::failed;
  if (WEXITSTATUS(status) == 0) return ChildEnd::finished;
  return WEXITSTATUS(status) == kChildOutOfMemory ? ChildEnd::out_of_memory : ChildEnd::failed;
}

}  // namespace pbench
