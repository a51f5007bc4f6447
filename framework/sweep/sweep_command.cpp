#include "framework/sweep/sweep_command.hpp"

#include "framework/util/cli.hpp"

namespace pbench {

std::optional<int> parse_sweep_command(int argc, char** argv, SweepCommand& c) {
  CLI::App app{"run_sweep: plan and run a sweep of pbench runs (one process per run, resumable).\n"
               "Example: run_sweep experiments/svdiff.yaml method.rank=4,8 seed='range(0,3)' --jobs 2",
               "run_sweep"};
  app.add_option("experiment", c.experiment, "experiment YAML (experiments/<name>.yaml)");
  app.add_option("overrides", c.overrides,
                 "overrides: key=value, +key=value, ++key=value, ~key, group=option; sweeps: key=a,b  key=range(0,5)");
  app.add_option("--jobs,-j", c.jobs, "runs in parallel (threads per run = cores / jobs unless runtime.threads is set)")
      ->check(count_in(1, kMaxThreads));
  app.add_flag("--plan", c.plan_only, "print run ids with their overrides and status; run nothing");
  app.add_flag("--list", c.list, "list every registered method, metric, dataset and model");
  app.add_option("--results", c.results_dir, "results root (default ./results); runs go to <results>/<sweep>/runs");
  app.add_flag("--json", c.json, "print one JSON document on stdout instead of the human table");
  app.add_option("--worker", c.worker, "program that executes one run (default: pbench next to run_sweep)");
  app.add_flag("--version", c.version, "print the version and git commit");
  std::string launcher = "local";
  app.add_option("--launcher", launcher, "local (default: child processes here) or slurm (one job array, docs/cluster.md)")
      ->check(CLI::IsMember({"local", "slurm"}));
  app.add_option("--status", c.status_dir, "print done/failed/running/pending per run id of <results>/<sweep> and exit");
  app.add_flag("--dry-run", c.dry_run, "--launcher slurm: print the sbatch script, submit nothing");
  SlurmOptions& slurm = c.slurm;
  app.add_option("--partition", slurm.partition, "slurm: partition (-p)");
  app.add_option("--account", slurm.account, "slurm: account (-A)");
  app.add_option("--time", slurm.time, "slurm: time limit per run, e.g. 02:00:00");
  app.add_option("--gpus-per-task", slurm.gpus_per_task, "slurm: GPUs per run")->check(count_in(0, 1024));
  app.add_option("--cpus-per-task", slurm.cpus_per_task, "slurm: CPUs per run, also its runtime.threads (default 1)")
      ->check(count_in(1, kMaxThreads));
  app.add_option("--mem", slurm.mem, "slurm: memory per run, e.g. 16G");
  app.add_option("--max-parallel", slurm.max_parallel, "slurm: at most K array tasks at once (--array=...%K)")
      ->check(count_in(1, 1000000));
  app.add_option("--sbatch-arg", slurm.sbatch_args, "slurm: one more #SBATCH line, e.g. --sbatch-arg=--qos=short (repeatable)");
  const std::optional<int> decided = parse_command_line(app, argc, argv);
  c.launcher = launcher == "slurm" ? Launcher::slurm : Launcher::local;
  return decided;
}

}  // namespace pbench
