#pragma once
// run_sweep --status <results>/<sweep>: what each run id of a sweep folder is
// doing, from the files alone (run files, .partial, run locks) and, where the
// sweep was submitted to Slurm, squeue and sacct. Works for local sweeps too.
#include <filesystem>
#include <string>
#include <vector>

namespace pbench {

struct RunStatus {
  std::string run_id;
  std::string state;   // done | failed | running | pending
  std::string detail;  // e.g. "queued as Slurm task 12_3", "killed by Slurm: TIMEOUT (task 12_3)"
};

// Every run id the folder knows (configs/, runs/), sorted; InputError when it is no sweep folder.
std::vector<RunStatus> sweep_status(const std::filesystem::path& sweep_dir);
// Prints the table or (json) one document; returns the exit status (0).
int print_sweep_status(const std::filesystem::path& sweep_dir, bool json);

}  // namespace pbench
