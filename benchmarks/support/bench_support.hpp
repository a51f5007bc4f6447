#pragma once
// Shared machinery of every benchmarks/bench_*.cpp (see benchmarks/README.md).
//
// - PBENCH_BENCHMARK_MAIN() replaces BENCHMARK_MAIN(): it takes `--threads=N`
//   (default 1), re-executes the program once with the thread environment the
//   launcher gives runs (framework/util/thread_env: GOMP_SPINCOUNT,
//   OPENBLAS_THREAD_TIMEOUT, OMP/OPENBLAS_NUM_THREADS=N; they only act when
//   set before the libraries load), sets at::set_num_threads(N) and registers
//   the two reference workloads below in every binary.
// - REF.sgemm and REF.scalar are the yardsticks the gate divides by: machine
//   speed on this shared 2-core box drifts ±8–15% between processes (and
//   more while others compile), so a benchmark is only compared as a ratio to
//   a reference measured in the same process, interleaved with it.
// - pbench::bench::add() registers a benchmark with the per-thread-count
//   timing policy and hands it a `work` factor: 1 normally, 2 (or the given
//   factor) for the one benchmark named by PBENCH_BENCH_SLOWDOWN=name[:factor].
//   That is how the gate's "injected 2× slowdown is caught" check works
//   without ever slowing product code.
// - `--per_benchmark=NAME:rR:iI:tT[,NAME:…]` (each field optional) gives one
//   benchmark its own repetitions (R), fixed iterations per repetition (I) or
//   minimum time per repetition (T seconds), overriding --benchmark_repetitions
//   and --benchmark_min_time for it alone: the gate measures multi-second
//   workloads a few single iterations at a time while the references beside
//   them keep their many short repetitions. (Google Benchmark then appends
//   /iterations:I, /repeats:R, /min_time:T to the reported name.)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <unistd.h>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "framework/util/thread_env.hpp"

namespace pbench::bench {

inline int& thread_count_storage() {
  static int threads = 1;
  return threads;
}
// Intra-op threads of this process (the --threads=N it was started with).
inline int threads() { return thread_count_storage(); }

// The clone (bench_paths.cpp, the one unit built with its absolute path, so
// that the benchmarks' own units hash the same in every clone: issue 35).
std::filesystem::path source_dir();
// PBENCH_SHARED overrides; default: ../shared next to the project root.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("PBENCH_SHARED")) return env;
  return source_dir().parent_path() / "shared";
}

// A scratch folder for files a benchmark writes (removed and recreated).
inline std::filesystem::path scratch_dir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("pbench-bench-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// 2 (or the factor after ':') when PBENCH_BENCH_SLOWDOWN names this benchmark, else 1.
inline int work_factor(const std::string& name) {
  const char* env = std::getenv("PBENCH_BENCH_SLOWDOWN");
  if (!env || !*env) return 1;
  std::string spec = env;
  int factor = 2;
  if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    factor = std::max(1, std::atoi(spec.c_str() + colon + 1));
    spec.resize(colon);
  }
  return spec == name ? factor : 1;
}

// Per-benchmark measurement settings from --per_benchmark (0: not set).
struct Settings {
  int repetitions = 0;
  int64_t iterations = 0;
  double min_time_s = 0;
};
inline std::map<std::string, Settings>& settings_storage() {
  static std::map<std::string, Settings> settings;
  return settings;
}

// Parses "NAME:rR:iI:tT,NAME2:…" into settings_storage(); false (with a
// message on stderr) on a malformed spec.
inline bool parse_per_benchmark(const char* argv0, const std::string& spec) {
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "%s: error: --per_benchmark: %s in '%s' (expected NAME:rR:iI:tT,...)\n", argv0, why.c_str(),
                 spec.c_str());
    return false;
  };
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    size_t pos = item.find(':');
    const std::string name = item.substr(0, pos);
    if (name.empty()) return fail("empty name");
    Settings s;
    while (pos != std::string::npos) {
      const size_t next = item.find(':', pos + 1);
      const std::string field = item.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
      pos = next;
      char* end = nullptr;
      if (field.size() < 2) return fail("field '" + field + "'");
      const char* num = field.c_str() + 1;
      if (field[0] == 'r') s.repetitions = int(std::strtol(num, &end, 10));
      else if (field[0] == 'i') s.iterations = std::strtoll(num, &end, 10);
      else if (field[0] == 't') s.min_time_s = std::strtod(num, &end);
      else return fail("field '" + field + "'");
      if (*end != '\0' || (field[0] == 'r' && s.repetitions < 1) || (field[0] == 'i' && s.iterations < 1) ||
          (field[0] == 't' && !(s.min_time_s > 0)))
        return fail("field '" + field + "'");
    }
    settings_storage()[name] = s;
  }
  return true;
}

using BenchFn = std::function<void(benchmark::State&, int work)>;

// Registers `name`. At 1 thread the gate reads CPU time (time the scheduler
// gave other processes does not count); with intra-op threads the calling
// thread's CPU time misses the workers, so real time is used (TRAPS.md).
inline benchmark::internal::Benchmark* add(const std::string& name, BenchFn fn) {
  const int work = work_factor(name);
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [fn, work](benchmark::State& state) { fn(state, work); });
  b->Unit(benchmark::kMicrosecond);
  if (threads() > 1) b->UseRealTime();
  if (auto it = settings_storage().find(name); it != settings_storage().end()) {
    if (it->second.repetitions > 0) b->Repetitions(it->second.repetitions);
    if (it->second.iterations > 0) b->Iterations(it->second.iterations);
    if (it->second.min_time_s > 0) b->MinTime(it->second.min_time_s);
  }
  return b;
}

// Achieved GFLOP/s as a counter (flops per iteration, averaged over the measured time).
inline void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

constexpr int64_t kRefSgemmSize = 512;     // 2*512^3 = 268 MFLOP, ~8 ms at 1 thread
constexpr int64_t kRefScalarSteps = 1 << 20;

// Reference for BLAS-bound work: a fixed fp32 square matmul through LibTorch.
inline void ref_sgemm(benchmark::State& state, int work) {
  torch::manual_seed(0);
  const auto a = torch::randn({kRefSgemmSize, kRefSgemmSize});
  const auto b = torch::randn({kRefSgemmSize, kRefSgemmSize});
  auto c = torch::empty({kRefSgemmSize, kRefSgemmSize});
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) torch::mm_out(c, a, b);
    benchmark::DoNotOptimize(c.data_ptr<float>());
  }
  set_gflops(state, 2.0 * double(kRefSgemmSize * kRefSgemmSize * kRefSgemmSize) * work);
}

// Reference for non-BLAS code (parsing, hashing, bookkeeping): integer
// arithmetic, data-dependent branches and random access in a 64 KiB table,
// the mix the tokenizer, config and file code spend their time on.
inline void ref_scalar(benchmark::State& state, int work) {
  std::vector<uint32_t> table(1 << 14);
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) {
      uint64_t x = 88172645463325252ULL;
      uint32_t acc = 0;
      for (int64_t i = 0; i < kRefScalarSteps; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t& slot = table[(x >> 40) & (table.size() - 1)];
        if ((x >> 61) & 1) acc ^= slot;
        else slot += uint32_t(x >> 20);
      }
      benchmark::DoNotOptimize(acc);
    }
  }
}

inline void register_references() {
  add("REF.sgemm", ref_sgemm);
  add("REF.scalar", ref_scalar);
}

// Strips --threads=N and --per_benchmark=… from argv, re-executes with the thread environment for N
// when it is not already in place, then runs Google Benchmark as usual.
inline int run_main(int argc, char** argv, void (*register_benchmarks)()) {
  int threads = 1;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
      if (threads < 1) {
        std::fprintf(stderr, "%s: error: --threads: expected a positive integer, got '%s'\n", argv[0], argv[i] + 10);
        return 2;
      }
    } else if (i > 0 && std::strncmp(argv[i], "--per_benchmark=", 16) == 0) {
      if (!parse_per_benchmark(argv[0], argv[i] + 16)) return 2;
    } else {
      args.push_back(argv[i]);
    }
  }
  const std::string wanted = std::to_string(threads);
  const char* have = std::getenv("PBENCH_BENCH_THREADS");
  if (!have || wanted != have) {
    for (const auto& [key, value] : thread_environment(threads)) setenv(key.c_str(), value.c_str(), 1);
    setenv("PBENCH_BENCH_THREADS", wanted.c_str(), 1);
    // The resolved path, not /proc/self/exe, so that ps shows the benchmark's name.
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
      self[len] = '\0';
      execv(self, argv);
    }  // on failure carry on in this environment
  }
  // One allocator policy for every benchmark, whatever ran before it in this
  // process: all memory comes from the heap and is never returned to the
  // system, so a steady-state iteration reuses pages instead of faulting in
  // fresh ones. glibc's defaults otherwise decide by history: its dynamic mmap
  // threshold flipped multi-MiB buffers between reused heap memory and fresh
  // mappings depending on the benchmarks run earlier (safetensors.load_16MiB
  // moved 8x between gate runs of an unchanged tree), buffers of 32 MiB and
  // more (the attention scores of a 32x32 latent) were mapped anew on every
  // use, and trimming returned the top of the heap after a forward pass:
  // W2.fwd took 41k page faults per iteration beside the other UNets and
  // 123k alone (1.6x the time), and W3.fwd_bwd took 1.5x the time it takes now.
  mallopt(M_MMAP_MAX, 0);         // no separate mappings: every block from the heap
  mallopt(M_TRIM_THRESHOLD, -1);  // never give the heap's top back
  thread_count_storage() = threads;
  at::set_num_threads(threads);
  register_references();
  register_benchmarks();
  args.push_back(nullptr);
  int n = int(args.size()) - 1;
  benchmark::AddCustomContext("pbench_threads", wanted);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace pbench::bench

// Each benchmark file defines `void register_benchmarks()` (calls to
// pbench::bench::add) and ends with this line.
#define PBENCH_BENCHMARK_MAIN()                                        \
  int main(int argc, char** argv) { return pbench::bench::run_main(argc, argv, register_benchmarks); }
