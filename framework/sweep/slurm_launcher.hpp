#pragma once
// run_sweep --launcher slurm: one array task per run that is not complete, not
// being written and not queued by an earlier submission (framework/sweep/slurm.hpp
// has the script and the submission records). Prints what it submitted.
#include <filesystem>

#include "framework/sweep/slurm.hpp"
#include "framework/sweep/sweep_runs.hpp"

namespace pbench {

struct SlurmLaunchOptions {
  SlurmOptions slurm;
  std::filesystem::path worker;
  bool dry_run = false;  // print the sbatch script, write and submit nothing
  bool json = false;
};

// Returns the exit status (0; InputError when sbatch or the worker is missing).
int launch_slurm(const SweepPlan& plan, std::vector<SweepRun>& runs, const std::filesystem::path& sweep_dir,
                 const SlurmLaunchOptions& options);

}  // namespace pbench
