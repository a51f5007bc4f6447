#pragma once
// The runs of one sweep as run_sweep tracks them: each planned run with its
// state (an enum, printed as INTERFACES.md's words), and the files a run has
// in the sweep folder. Shared by the local launcher, the Slurm launcher and
// the summary.
#include <filesystem>
#include <string>
#include <vector>

#include "framework/sweep/plan.hpp"

namespace pbench {

enum class RunState {
  pending,           // not complete, waiting for a slot
  running,           // a worker of this run_sweep executes it
  running_elsewhere, // another process holds its run lock (a Slurm task, a second launcher)
  complete,
  failed,
  interrupted,       // stopped by run_sweep on a signal; rerun on the next start
};

// "pending", "running", "running elsewhere", "complete", "failed", "interrupted":
// the words of run_sweep's JSON and tables.
const char* state_name(RunState state);

struct SweepRun {
  const PlannedRun* run = nullptr;
  RunState state = RunState::pending;
  std::string error;  // why it failed, one line
  double seconds = 0;
};

// <sweep>/runs/<id>.h5
std::filesystem::path run_file(const std::filesystem::path& sweep_dir, const std::string& run_id);

// One entry per planned run, complete where its final run file says so, else pending;
// InputError when a run's file holds another run id (a copy put under its name).
std::vector<SweepRun> initial_runs(const SweepPlan& plan, const std::filesystem::path& sweep_dir);

// Writes <sweep>/configs/<id>.yaml: the one resolved config a run's worker executes,
// local or on a cluster, with runtime.sweep / .output / .threads set.
std::filesystem::path write_run_config(const SweepPlan& plan, const PlannedRun& run,
                                       const std::filesystem::path& sweep_dir, int threads);

// "a b c" from {"a", "b", "c"}: a run's overrides as one line of text.
std::string join_words(const std::vector<std::string>& words);

}  // namespace pbench
