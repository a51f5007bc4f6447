#pragma once
// run_sweep's local launcher: every run that is not complete and not locked by
// another process runs in its own `pbench run <config>` child process, `jobs`
// at a time, under the sweep folder's exclusive lock. A failed run is recorded
// and the sweep goes on; a signal stops the children and leaves them to the
// next start; a full results disk stops the sweep instead of failing each run.
#include <filesystem>

#include "framework/sweep/sweep_runs.hpp"

namespace pbench {

struct LocalLaunchOptions {
  int jobs = 1;
  std::filesystem::path worker;  // the program that executes one run
  bool json = false;             // no progress lines on stderr when stdout is JSON
};

struct LocalLaunch {
  size_t skipped = 0;  // runs complete before this start
  bool interrupted = false;
  bool disk_full = false;
};

// Runs the sweep's pending runs and updates each one's state, error and time.
// InputError for what the user must fix first (an unwritable --results, a
// missing worker, another run_sweep on the same folder).
LocalLaunch launch_local(const SweepPlan& plan, std::vector<SweepRun>& runs, const std::filesystem::path& sweep_dir,
                         const LocalLaunchOptions& options);

}  // namespace pbench
