#include "framework/sweep/run_sweep_app.hpp"

#include <iostream>

#include "framework/sweep/local_launcher.hpp"
#include "framework/sweep/slurm_launcher.hpp"
#include "framework/sweep/sweep_command.hpp"
#include "framework/sweep/sweep_report.hpp"
#include "framework/sweep/sweep_status.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/version.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

fs::path worker_program(const SweepCommand& command, const char* argv0) {
  if (!command.worker.empty()) return fs::absolute(command.worker);
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv0);
  return self.parent_path() / "pbench";
}

// --status <results>/<sweep>, with or without a trailing slash.
int print_status(const std::string& status_dir, bool json) {
  fs::path dir = fs::absolute(status_dir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  return print_sweep_status(dir, json);
}

}  // namespace

// parse -> plan -> launch (local or Slurm) -> summarize.
int run_sweep_main(int argc, char** argv, const SweepHooks& hooks) {
  SweepCommand command;
  if (auto decided = parse_sweep_command(argc, argv, command)) return *decided;
  if (command.version) {
    std::cout << version_line("run_sweep") << "\n";
    return kExitOk;
  }
  try {
    if (command.list) {
      print_catalog(hooks.catalog ? hooks.catalog() : std::vector<CatalogSection>{}, command.json);
      return kExitOk;
    }
    if (!command.status_dir.empty()) return print_status(command.status_dir, command.json);
    if (command.experiment.empty()) throw InputError("run_sweep: missing the experiment file (run_sweep --help)");
    if (command.launcher != Launcher::slurm && command.dry_run)
      throw InputError("run_sweep: --dry-run goes with --launcher slurm");

    const SweepPlan plan = plan_sweep(command.experiment, command.overrides, hooks.validate, hooks.expand);
    const fs::path sweep_dir = fs::path(command.results_dir) / plan.name;
    std::vector<SweepRun> runs = initial_runs(plan, sweep_dir);
    if (command.plan_only) {
      print_plan(plan, runs, sweep_dir, command.json);
      return kExitOk;
    }
    const fs::path worker = worker_program(command, argv[0]);
    if (command.launcher == Launcher::slurm)
      return launch_slurm(plan, runs, sweep_dir, {command.slurm, worker, command.dry_run, command.json});
    const LocalLaunch launch = launch_local(plan, runs, sweep_dir, {command.jobs, worker, command.json});
    return summarize_sweep(plan, runs, sweep_dir, launch, command.json);
  } catch (...) {
    return report_current_exception("run_sweep");
  }
}

}  // namespace pbench
