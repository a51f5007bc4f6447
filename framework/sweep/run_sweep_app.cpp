#include "framework/util/cli.hpp"
#include "framework/sweep/run_sweep_app.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/h5/run_lock.hpp"
#include "framework/sweep/process.hpp"
#include "framework/sweep/slurm.hpp"
#include "framework/sweep/sweep_status.hpp"
#include "framework/util/duration.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/thread_env.hpp"
#include "framework/util/version.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace pbench {
namespace {

volatile sig_atomic_t g_stop_signal = 0;
void on_stop_signal(int sig) { g_stop_signal = sig; }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid must return so the loop sees the signal
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

void print_catalog(const std::vector<CatalogSection>& sections, bool json) {
  if (json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    for (const auto& sec : sections) {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& e : sec.entries) arr.push_back({{"name", e.name}, {"help", e.help}});
      doc[sec.kind] = arr;
    }
    std::cout << doc.dump(2) << "\n";
    return;
  }
  for (const auto& sec : sections) {
    std::cout << sec.kind << ":\n";
    if (sec.entries.empty()) std::cout << "  (none registered in this build)\n";
    size_t width = 0;
    for (const auto& e : sec.entries) width = std::max(width, e.name.size());
    for (const auto& e : sec.entries)
      std::cout << "  " << e.name << std::string(width - e.name.size() + 2, ' ') << e.help << "\n";
  }
}

// Holds an exclusive lock on the sweep folder for the life of run_sweep: two
// run_sweep processes on one sweep would run the same runs twice.
class SweepLock {
 public:
  explicit SweepLock(const fs::path& dir) {
    std::string path = (dir / ".lock").string();
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw InputError(path + ": cannot create the sweep lock file (is the results folder writable?)");
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0)
      throw InputError(dir.string() + ": another run_sweep is working on this sweep; wait for it or stop it first");
  }
  ~SweepLock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_ = -1;
};

struct RunState {
  const PlannedRun* run = nullptr;
  std::string status;  // complete | failed | pending | running
  std::string error;
  double seconds = 0;
};

class Progress {
 public:
  Progress(size_t total, size_t jobs, bool tty) : total_(total), jobs_(jobs), tty_(tty), start_(Clock::now()) {}

  void finished(bool ok, double seconds) {
    (ok ? done_ : failed_)++;
    total_seconds_ += seconds;
    print();
  }
  void set_running(size_t n) { running_ = n; }

  void print() {
    size_t finished = done_ + failed_;
    size_t remaining = total_ - finished;
    std::ostringstream line;
    line << "[run_sweep] " << done_ << " done, " << failed_ << " failed, " << remaining << " remaining";
    if (running_) line << " (" << running_ << " running)";
    if (finished > 0 && remaining > 0) {
      double per_run = total_seconds_ / double(finished);
      double eta = per_run * double(remaining) / double(std::max<size_t>(1, std::min(jobs_, remaining)));
      line << ", ETA " << format_duration(eta);
    }
    line << ", elapsed " << format_duration(std::chrono::duration<double>(Clock::now() - start_).count());
    if (tty_)
      std::cerr << "\r\033[K" << line.str() << std::flush;
    else
      std::cerr << line.str() << "\n";
  }
  void end_line() {
    if (tty_) std::cerr << "\n";
  }

 private:
  size_t total_, jobs_, done_ = 0, failed_ = 0, running_ = 0;
  double total_seconds_ = 0;
  bool tty_;
  Clock::time_point start_;
};

// Bytes a non-root writer can still use on the file system holding `dir` (-1 if unknown).
long long free_bytes(const fs::path& dir) {
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.f_bavail) * static_cast<long long>(st.f_frsize);
}
// Below this, a failed run is taken as the disk being full: the sweep stops instead of
// failing every remaining run in turn (their logs could not even be written).
constexpr long long kFullDiskBytes = 1 << 20;

std::string last_line_of(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// The one resolved config a run's worker executes, local or on a cluster.
fs::path write_run_config(const SweepPlan& plan, const PlannedRun& run, const fs::path& sweep_dir, int threads) {
  cfg::Node config = run.composed;
  cfg::assign(config, "runtime.sweep", cfg::Node::string(plan.name), true);
  cfg::assign(config, "runtime.output",
              cfg::Node::string(fs::absolute(sweep_dir / "runs" / (run.id + ".h5")).string()), true);
  cfg::assign(config, "runtime.threads", cfg::Node::integer(threads), true);
  fs::path config_file = sweep_dir / "configs" / (run.id + ".yaml");
  std::ofstream out(config_file);
  out << "# run " << run.id << " of sweep " << plan.name << " (" << join(run.overrides, " ")
      << ")\n# written by run_sweep; rerun one run with: pbench run " << config_file.string() << "\n"
      << cfg::to_yaml(config);
  return config_file;
}

fs::path default_worker(const char* argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv0);
  return self.parent_path() / "pbench";
}

// --launcher slurm: one array task per run that is not complete, not being written
// and not queued by an earlier submission (framework/sweep/slurm.hpp).
int submit_to_slurm(const SweepPlan& plan, std::vector<RunState>& states, const fs::path& sweep_dir,
                    const fs::path& worker, const SlurmOptions& options, bool dry_run, bool json) {
  auto tasks = dry_run ? std::map<std::string, SlurmTask>{} : slurm_tasks(sweep_dir);
  std::vector<RunState*> todo;
  size_t complete = 0, active = 0;
  for (auto& s : states) {
    fs::path final_file = sweep_dir / "runs" / (s.run->id + ".h5");
    auto t = tasks.find(s.run->id);
    if (s.status == "complete") ++complete;
    else if (run_is_locked(final_file) || (t != tasks.end() && slurm_task_active(t->second.state))) ++active;
    else todo.push_back(&s);
  }
  int n = next_submission_number(sweep_dir);
  auto threads_of = [&](const RunState& s) {
    return int(cfg::get_int(s.run->resolved, "runtime.threads", options.cpus_per_task));
  };
  // One script for the array: every run gets the thread environment of the first
  // (runtime.threads is one value per sweep unless an axis varies it; each config keeps its own).
  auto env = thread_environment(todo.empty() ? options.cpus_per_task : threads_of(*todo.front()));
  SlurmArray array = slurm_array_script(options, plan.name, sweep_dir, worker, env, todo.size(), n);
  if (dry_run) {
    std::cout << array.text;
    std::cerr << "[run_sweep] dry run: " << todo.size() << " of " << states.size()
              << " runs would be submitted; nothing written\n";
    return kExitOk;
  }
  if (access(worker.c_str(), X_OK) != 0)
    throw InputError(worker.string() + ": worker program not found or not executable (build pbench first)");
  std::string job;
  if (!todo.empty()) {
    fs::create_directories(sweep_dir / "runs");
    fs::create_directories(sweep_dir / "configs");
    std::vector<std::string> ids;
    for (RunState* s : todo) {
      write_run_config(plan, *s->run, sweep_dir, threads_of(*s));
      ids.push_back(s->run->id);
    }
    job = submit_slurm_array(array, ids, sweep_dir);
  }
  if (json) {
    nlohmann::ordered_json doc;
    doc["sweep"] = plan.name;
    doc["results"] = sweep_dir.string();
    doc["launcher"] = "slurm";
    doc["job_id"] = job;
    doc["submitted"] = todo.size();
    doc["complete"] = complete;
    doc["active"] = active;
    doc["script"] = todo.empty() ? "" : array.script.string();
    doc["runs"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < todo.size(); ++i)
      doc["runs"].push_back({{"run_id", todo[i]->run->id}, {"array_task", i}});
    std::cout << doc.dump(2) << "\n";
  } else if (todo.empty()) {
    std::cout << "sweep " << plan.name << ": nothing to submit (" << complete << " complete, " << active
              << " queued or running)\n";
  } else {
    std::cout << "sweep " << plan.name << ": submitted " << todo.size() << " runs as Slurm job " << job
              << " (array 0-" << todo.size() - 1 << "; " << complete << " complete, " << active
              << " queued or running skipped)\n  script " << array.script.string() << "\n  logs   "
              << array.logs.string() << "\n  status run_sweep --status " << sweep_dir.string() << "\n";
  }
  return kExitOk;
}

}  // namespace

int run_sweep_main(int argc, char** argv, const SweepHooks& hooks) {
  CLI::App app{"run_sweep: plan and run a sweep of pbench runs (one process per run, resumable).\n"
               "Example: run_sweep experiments/svdiff.yaml method.rank=4,8 seed='range(0,3)' --jobs 2",
               "run_sweep"};
  std::string experiment;
  std::vector<std::string> overrides;
  int jobs = 1;
  bool plan_only = false, list = false, json = false, version = false;
  std::string results_dir = "results";
  std::string worker;
  app.add_option("experiment", experiment, "experiment YAML (experiments/<name>.yaml)");
  app.add_option("overrides", overrides,
                 "overrides: key=value, +key=value, ++key=value, ~key, group=option; sweeps: key=a,b  key=range(0,5)");
  app.add_option("--jobs,-j", jobs, "runs in parallel (threads per run = cores / jobs unless runtime.threads is set)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--plan", plan_only, "print run ids with their overrides and status; run nothing");
  app.add_flag("--list", list, "list every registered method, metric, dataset and model");
  app.add_option("--results", results_dir, "results root (default ./results); runs go to <results>/<sweep>/runs");
  app.add_flag("--json", json, "print one JSON document on stdout instead of the human table");
  app.add_option("--worker", worker, "program that executes one run (default: pbench next to run_sweep)");
  app.add_flag("--version", version, "print the version and git commit");
  std::string launcher = "local", status_dir;
  SlurmOptions slurm;
  bool dry_run = false;
  app.add_option("--launcher", launcher, "local (default: child processes here) or slurm (one job array, docs/cluster.md)")
      ->check(CLI::IsMember({"local", "slurm"}));
  app.add_option("--status", status_dir, "print done/failed/running/pending per run id of <results>/<sweep> and exit");
  app.add_flag("--dry-run", dry_run, "--launcher slurm: print the sbatch script, submit nothing");
  app.add_option("--partition", slurm.partition, "slurm: partition (-p)");
  app.add_option("--account", slurm.account, "slurm: account (-A)");
  app.add_option("--time", slurm.time, "slurm: time limit per run, e.g. 02:00:00");
  app.add_option("--gpus-per-task", slurm.gpus_per_task, "slurm: GPUs per run")->check(CLI::NonNegativeNumber);
  app.add_option("--cpus-per-task", slurm.cpus_per_task, "slurm: CPUs per run, also its runtime.threads (default 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--mem", slurm.mem, "slurm: memory per run, e.g. 16G");
  app.add_option("--max-parallel", slurm.max_parallel, "slurm: at most K array tasks at once (--array=...%K)")
      ->check(CLI::PositiveNumber);
  app.add_option("--sbatch-arg", slurm.sbatch_args, "slurm: one more #SBATCH line, e.g. --sbatch-arg=--qos=short (repeatable)");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  if (version) {
    std::cout << version_line("run_sweep") << "\n";
    return kExitOk;
  }
  try {
    if (list) {
      print_catalog(hooks.catalog ? hooks.catalog() : std::vector<CatalogSection>{}, json);
      return kExitOk;
    }
    if (!status_dir.empty()) {
      fs::path dir = fs::absolute(status_dir).lexically_normal();
      if (dir.filename().empty()) dir = dir.parent_path();  // a trailing slash
      return print_sweep_status(dir, json);
    }
    if (experiment.empty()) throw InputError("run_sweep: missing the experiment file (run_sweep --help)");
    if (launcher != "slurm" && dry_run) throw InputError("run_sweep: --dry-run goes with --launcher slurm");
    SweepPlan plan = plan_sweep(experiment, overrides, hooks.validate, hooks.expand);
    fs::path sweep_dir = fs::path(results_dir) / plan.name;

    std::vector<RunState> states;
    for (const auto& run : plan.runs) {
      RunState s;
      s.run = &run;
      fs::path final_file = sweep_dir / "runs" / (run.id + ".h5");
      s.status = is_complete_run(final_file) ? "complete" : "pending";
      states.push_back(s);
    }

    if (plan_only) {
      if (json) {
        nlohmann::ordered_json doc;
        doc["sweep"] = plan.name;
        doc["experiment"] = plan.experiment.string();
        doc["results"] = sweep_dir.string();
        doc["axes"] = plan.axes;
        doc["runs"] = nlohmann::ordered_json::array();
        for (const auto& s : states)
          doc["runs"].push_back({{"run_id", s.run->id}, {"overrides", s.run->overrides}, {"status", s.status}});
        std::cout << doc.dump(2) << "\n";
      } else {
        std::cout << "sweep " << plan.name << ": " << plan.runs.size() << " runs -> " << sweep_dir.string() << "/runs\n";
        for (const auto& s : states)
          std::cout << s.run->id << "  " << (s.status == "complete" ? "complete" : "pending ") << "  "
                    << (s.run->overrides.empty() ? "(no overrides)" : join(s.run->overrides, " ")) << "\n";
        if (plan.duplicates)
          std::cout << "(" << plan.duplicates << " grid points resolved to an already listed run)\n";
      }
      return kExitOk;
    }

    if (launcher == "slurm") {
      fs::path worker_path = worker.empty() ? default_worker(argv[0]) : fs::absolute(worker);
      return submit_to_slurm(plan, states, sweep_dir, worker_path, slurm, dry_run, json);
    }

    for (const char* part : {"runs", "configs", "logs"}) {
      std::error_code ec;
      fs::create_directories(sweep_dir / part, ec);
      if (ec)  // a --results folder the sweep cannot write: the user's to fix, not a failed run
        throw InputError((sweep_dir / part).string() + ": cannot create the sweep's folder (" + ec.message() +
                         "); pass --results a folder this user can write");
    }
    SweepLock lock(sweep_dir);
    fs::path worker_path = worker.empty() ? default_worker(argv[0]) : fs::absolute(worker);
    if (access(worker_path.c_str(), X_OK) != 0)
      throw InputError(worker_path.string() + ": worker program not found or not executable (build pbench first)");

    int cores = available_cores();
    int default_threads = std::max(1, cores / jobs);
    std::deque<RunState*> queue;
    size_t elsewhere = 0;
    for (auto& s : states) {
      if (s.status == "complete") continue;
      fs::path final_file = sweep_dir / "runs" / (s.run->id + ".h5");
      if (run_is_locked(final_file)) {  // another process (a Slurm task, a second launcher) writes it
        s.status = "running elsewhere";
        ++elsewhere;
        continue;
      }
      std::error_code ec;
      fs::remove(final_file.string() + ".partial", ec);  // a crash's leftovers: rerun from scratch
      queue.push_back(&s);
    }
    size_t skipped = states.size() - queue.size() - elsewhere;
    if (!json)
      std::cerr << "[run_sweep] sweep " << plan.name << ": " << states.size() << " runs, " << skipped
                << " already complete, " << (elsewhere ? std::to_string(elsewhere) + " being run by another process, " : "")
                << queue.size() << " to run, " << jobs << " at a time\n";

    install_stop_handlers();
    Progress progress(queue.size(), size_t(jobs), isatty(STDERR_FILENO) && !json);
    std::map<pid_t, std::pair<RunState*, Clock::time_point>> running;
    bool interrupted = false, disk_full = false;
    while (!queue.empty() || !running.empty()) {
      while (!interrupted && !queue.empty() && running.size() < size_t(jobs)) {
        RunState* s = queue.front();
        queue.pop_front();
        int threads = int(cfg::get_int(s->run->resolved, "runtime.threads", default_threads));
        fs::path config_file = write_run_config(plan, *s->run, sweep_dir, threads);
        ChildSpec spec;
        spec.argv = {worker_path.string(), "run", fs::absolute(config_file).string()};
        spec.env = thread_environment(threads);
        spec.log_path = (sweep_dir / "logs" / (s->run->id + ".log")).string();
        pid_t pid = spawn_child(spec);
        s->status = "running";
        running[pid] = {s, Clock::now()};
      }
      progress.set_running(running.size());
      if (running.empty()) break;
      ChildExit ex = wait_any_child();
      if (g_stop_signal && !interrupted) {
        interrupted = true;
        for (const auto& [pid, info] : running) kill(pid, SIGTERM);
        queue.clear();
      }
      if (ex.pid <= 0) continue;
      auto it = running.find(ex.pid);
      if (it == running.end()) continue;
      RunState* s = it->second.first;
      s->seconds = std::chrono::duration<double>(Clock::now() - it->second.second).count();
      running.erase(it);
      fs::path final_file = sweep_dir / "runs" / (s->run->id + ".h5");
      fs::path log = sweep_dir / "logs" / (s->run->id + ".log");
      std::error_code ec;
      if (fs::exists(final_file, ec)) {
        RunFileSummary summary = read_run_summary(final_file);
        s->status = summary.status == "complete" ? "complete" : "failed";
        s->error = summary.error;
      } else if (interrupted) {
        s->status = "interrupted";
        s->error = "stopped by run_sweep on a signal";
      } else {
        s->status = "failed";
        s->error = ex.signal ? "worker killed by signal " + std::to_string(ex.signal)
                   : ex.exit_code == 0
                       ? "the run completed but its file " + final_file.string() +
                             " is gone (deleted while the sweep ran?); run the sweep again to redo it"
                       : "worker exited with status " + std::to_string(ex.exit_code) + " without a run file";
        std::string last = ex.exit_code == 0 && !ex.signal ? std::string() : last_line_of(log);
        if (!last.empty()) s->error += ": " + last;
      }
      if (s->status == "interrupted") continue;
      if (s->status == "failed" && !disk_full) {
        const long long left = free_bytes(sweep_dir);
        if (left >= 0 && left < kFullDiskBytes) {
          disk_full = true;
          s->error += " (the results file system has " + std::to_string(left >> 10) + " KiB free)";
          queue.clear();
        }
      }
      if (s->status == "failed" && !json)
        std::cerr << (isatty(STDERR_FILENO) ? "\r\033[K" : "") << "[run_sweep] run " << s->run->id << " ("
                  << join(s->run->overrides, " ") << ") failed: " << s->error << " (log: " << log.string() << ")\n";
      progress.set_running(running.size());
      progress.finished(s->status == "complete", s->seconds);
    }
    progress.end_line();

    size_t complete = 0, failed = 0, not_run = 0;
    for (const auto& s : states) {
      if (s.status == "complete") ++complete;
      else if (s.status == "failed") ++failed;
      else ++not_run;
    }
    if (json) {
      nlohmann::ordered_json doc;
      doc["sweep"] = plan.name;
      doc["results"] = sweep_dir.string();
      doc["total"] = states.size();
      doc["skipped_complete"] = skipped;
      doc["complete"] = complete;
      doc["failed"] = failed;
      doc["not_run"] = not_run;
      doc["interrupted"] = interrupted;
      doc["runs"] = nlohmann::ordered_json::array();
      for (const auto& s : states)
        doc["runs"].push_back({{"run_id", s.run->id},
                               {"overrides", s.run->overrides},
                               {"status", s.status},
                               {"error", s.error},
                               {"file", (sweep_dir / "runs" / (s.run->id + ".h5")).string()}});
      std::cout << doc.dump(2) << "\n";
    } else {
      std::cout << "sweep " << plan.name << ": " << complete << "/" << states.size() << " complete, " << failed
                << " failed" << (not_run ? ", " + std::to_string(not_run) + " not run" : std::string()) << " -> "
                << (sweep_dir / "runs").string() << "\n";
    }
    if (interrupted) {
      std::cerr << "[run_sweep] interrupted; run the same command again to resume\n";
      return kExitFailed;
    }
    if (disk_full) {
      std::cerr << "[run_sweep] stopped: the file system of " << sweep_dir.string()
                << " is full; free space and run the same command again to resume (completed runs are kept)\n";
      return kExitFailed;
    }
    return failed ? kExitFailed : kExitOk;
  } catch (...) {
    return report_current_exception("run_sweep");
  }
}

}  // namespace pbench
