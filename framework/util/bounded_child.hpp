#pragma once
// Work that may never end, run where it cannot take the process with it: a forked child with
// a wall-clock and a memory limit. For third-party code pbench cannot interrupt (yaml-cpp
// 0.7 loops forever, growing past 2 GiB, on some malformed inputs: tests/fuzz/regressions/
// config/yaml_cpp_hang_unbounded_memory). The child shares nothing back but how it ended,
// so the caller redoes the work in-process once the child has shown that it ends.
#include <cstdint>
#include <functional>

namespace pbench {

struct ChildLimits {
  unsigned wall_seconds = 5;  // under libFuzzer's per-input timeout (scripts/fuzz.sh: 10 s)
  // Address space the child may add to what the process already maps (the limit is set
  // relative to it: a LibTorch or sanitizer process maps gigabytes before any work).
  uint64_t extra_memory_bytes = uint64_t(1) << 30;
};

enum class ChildEnd {
  finished,       // `work` returned 0
  failed,         // it returned another status, or died of another signal
  out_of_time,    // killed at the wall-clock limit
  out_of_memory,  // it returned kChildOutOfMemory (std::bad_alloc inside the limit)
  not_run,        // fork failed (a process limit): the caller decides without the child
};
// What `work` returns when it caught std::bad_alloc.
inline constexpr int kChildOutOfMemory = 97;

// Runs `work` in a forked child under `limits`; waits for it and says how it ended. The child
// exits with _exit (no atexit handlers, no flushing of the parent's buffers).
ChildEnd run_bounded(const std::function<int()>& work, const ChildLimits& limits = {});

}  // namespace pbench
