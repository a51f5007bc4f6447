#pragma once
// Child processes for runs: each run is its own process (crash isolation, own
// RNG, own HDF5 file). Children die with their parent (PR_SET_PDEATHSIG), so
// a killed run_sweep leaves no orphan writing into a run file.
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace pbench {

struct ChildSpec {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added to the parent's environment
  std::string log_path;                                  // stdout and stderr go here
};

// Starts the child; throws std::runtime_error when fork/exec setup fails.
pid_t spawn_child(const ChildSpec& spec);

struct ChildExit {
  pid_t pid = -1;
  int exit_code = -1;  // valid when !signaled
  int signal = 0;      // the terminating signal, if any
};
// Waits for any child; pid -1 when there are none, 0 when a signal interrupted the wait.
ChildExit wait_any_child();

struct CapturedRun {
  int exit_code = -1;  // 127: not found on PATH
  std::string output;  // stdout and stderr, interleaved
};
// Runs a program (looked up on PATH) to its end and returns what it printed:
// for the scheduler's commands (sbatch, squeue, sacct, scancel).
CapturedRun run_capture(const std::vector<std::string>& argv);

}  // namespace pbench
