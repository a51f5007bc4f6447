#pragma once
// run_sweep's command line, parsed into one struct before anything else runs
// (step 1 of run_sweep: parse -> plan -> launch -> summarize).
#include <optional>
#include <string>
#include <vector>

#include "framework/sweep/slurm.hpp"

namespace pbench {

enum class Launcher { local, slurm };

struct SweepCommand {
  std::string experiment;
  std::vector<std::string> overrides;
  int jobs = 1;
  bool plan_only = false, list = false, json = false, version = false, dry_run = false;
  std::string results_dir = "results";
  std::string worker;      // empty = pbench next to run_sweep
  std::string status_dir;  // --status <results>/<sweep>
  Launcher launcher = Launcher::local;
  SlurmOptions slurm;
};

// Fills `command` from argv; returns the exit status when parsing decided the
// outcome (--help: 0, a usage error: 2), nullopt when run_sweep should go on.
std::optional<int> parse_sweep_command(int argc, char** argv, SweepCommand& command);

}  // namespace pbench
