#pragma once
// run_sweep --launcher slurm: a sweep is a list of independent run ids, each with
// its own config and HDF5 file, so it maps onto one Slurm job array with no
// coordination of our own: task i runs `pbench run configs/<id i>.yaml` where
// id i is line i+1 of the submission's id list. Everything lives in the results
// folder the cluster shares:
//
//   <results>/<sweep>/slurm/submit-<n>.sbatch   the script as submitted
//   <results>/<sweep>/slurm/runs-<n>.txt        array index -> run id (line i+1)
//   <results>/<sweep>/slurm/submissions.tsv     job id, id list, time, task count
//   <results>/<sweep>/slurm/logs/<job>_<task>.{out,err}
//
// What makes resubmission safe: a run is submitted again only when it is not
// complete, no process holds its lock (framework/h5/run_lock.hpp) and no task of
// an earlier submission of this sweep is still queued or running for it
// (squeue). A task killed by the scheduler leaves an unlocked `.partial` that
// the next submission's writer replaces.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pbench {

struct SlurmOptions {
  std::string partition, account, time, mem;
  int gpus_per_task = 0;
  int cpus_per_task = 1;
  int max_parallel = 0;                  // %K on --array; 0 = the scheduler decides
  std::vector<std::string> sbatch_args;  // extra `#SBATCH` lines, e.g. --qos=short
};

struct SlurmArray {
  std::filesystem::path script, ids_file, logs;
  std::string text;  // the sbatch script
  size_t tasks = 0;
};

// The script and the paths it names for submission number `n` of this sweep
// (paths absolute: array tasks start in whatever folder the scheduler picks).
SlurmArray slurm_array_script(const SlurmOptions& options, const std::string& sweep,
                              const std::filesystem::path& sweep_dir, const std::filesystem::path& worker,
                              const std::vector<std::pair<std::string, std::string>>& env, size_t tasks, int n);

// Writes the script and the id list, runs `sbatch --parsable`, records the
// submission; returns the job id. Throws InputError with sbatch's words on failure.
std::string submit_slurm_array(const SlurmArray& array, const std::vector<std::string>& run_ids,
                               const std::filesystem::path& sweep_dir);
// The next free submission number of a sweep folder.
int next_submission_number(const std::filesystem::path& sweep_dir);

struct SlurmTask {
  std::string job, task, state;  // state: squeue's (PENDING, RUNNING, ...) or sacct's (TIMEOUT, ...)
};
// The latest array task of this sweep's submissions for each run id, with its
// state from squeue (queued or running) or else sacct (how it ended), where
// those commands exist and know the job; empty when the sweep was never submitted.
std::map<std::string, SlurmTask> slurm_tasks(const std::filesystem::path& sweep_dir);

// Whether a state means the task may still start or is running.
bool slurm_task_active(const std::string& state);

}  // namespace pbench
