#include "framework/sweep/slurm_launcher.hpp"

#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "framework/config/access.hpp"
#include "framework/h5/run_lock.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/thread_env.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

struct Submission {
  std::vector<SweepRun*> to_submit;
  size_t complete = 0, active = 0;
};

// Sorts the runs: complete, queued or running (locked, or an active task of an
// earlier submission), and the rest, which this submission takes.
Submission sort_runs(std::vector<SweepRun>& runs, const fs::path& sweep_dir, bool dry_run) {
  const auto tasks = dry_run ? std::map<std::string, SlurmTask>{} : slurm_tasks(sweep_dir);
  Submission out;
  for (auto& s : runs) {
    const auto t = tasks.find(s.run->id);
    if (s.state == RunState::complete) ++out.complete;
    else if (run_is_locked(run_file(sweep_dir, s.run->id)) || (t != tasks.end() && slurm_task_active(t->second.state)))
      ++out.active;
    else out.to_submit.push_back(&s);
  }
  return out;
}

void print_submission(const SweepPlan& plan, const Submission& sub, const SlurmArray& array, const std::string& job,
                      const fs::path& sweep_dir, bool json) {
  if (json) {
    nlohmann::ordered_json doc;
    doc["sweep"] = plan.name;
    doc["results"] = sweep_dir.string();
    doc["launcher"] = "slurm";
    doc["job_id"] = job;
    doc["submitted"] = sub.to_submit.size();
    doc["complete"] = sub.complete;
    doc["active"] = sub.active;
    doc["script"] = sub.to_submit.empty() ? "" : array.script.string();
    doc["runs"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < sub.to_submit.size(); ++i)
      doc["runs"].push_back({{"run_id", sub.to_submit[i]->run->id}, {"array_task", i}});
    std::cout << doc.dump(2) << "\n";
  } else if (sub.to_submit.empty()) {
    std::cout << "sweep " << plan.name << ": nothing to submit (" << sub.complete << " complete, " << sub.active
              << " queued or running)\n";
  } else {
    std::cout << "sweep " << plan.name << ": submitted " << sub.to_submit.size() << " runs as Slurm job " << job
              << " (array 0-" << sub.to_submit.size() - 1 << "; " << sub.complete << " complete, " << sub.active
              << " queued or running skipped)\n  script " << array.script.string() << "\n  logs   "
              << array.logs.string() << "\n  status run_sweep --status " << sweep_dir.string() << "\n";
  }
}

}  // namespace

int launch_slurm(const SweepPlan& plan, std::vector<SweepRun>& runs, const fs::path& sweep_dir,
                 const SlurmLaunchOptions& options) {
  const Submission sub = sort_runs(runs, sweep_dir, options.dry_run);
  const int n = next_submission_number(sweep_dir);
  auto threads_of = [&](const SweepRun& s) {
    return int(cfg::get_int(s.run->resolved, "runtime.threads", options.slurm.cpus_per_task));
  };
  // One script for the array: every run gets the thread environment of the first
  // (runtime.threads is one value per sweep unless an axis varies it; each config keeps its own).
  const auto env = thread_environment(sub.to_submit.empty() ? options.slurm.cpus_per_task : threads_of(*sub.to_submit.front()));
  const SlurmArray array =
      slurm_array_script(options.slurm, plan.name, sweep_dir, options.worker, env, sub.to_submit.size(), n);
  if (options.dry_run) {
    std::cout << array.text;
    std::cerr << "[run_sweep] dry run: " << sub.to_submit.size() << " of " << runs.size()
              << " runs would be submitted; nothing written\n";
    return kExitOk;
  }
  if (access(options.worker.c_str(), X_OK) != 0)
    throw InputError(options.worker.string() + ": worker program not found or not executable (build pbench first)");
  std::string job;
  if (!sub.to_submit.empty()) {
    fs::create_directories(sweep_dir / "runs");
    fs::create_directories(sweep_dir / "configs");
    std::vector<std::string> ids;
    for (SweepRun* s : sub.to_submit) {
      write_run_config(plan, *s->run, sweep_dir, threads_of(*s));
      ids.push_back(s->run->id);
    }
    job = submit_slurm_array(array, ids, sweep_dir);
  }
  print_submission(plan, sub, array, job, sweep_dir, options.json);
  return kExitOk;
}

}  // namespace pbench
