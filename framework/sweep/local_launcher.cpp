#include "framework/sweep/local_launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "framework/config/access.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/h5/run_lock.hpp"
#include "framework/sweep/process.hpp"
#include "framework/util/duration.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/thread_env.hpp"

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

// Holds an exclusive lock on the sweep folder for the life of the launch: two
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
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
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

fs::path log_file(const fs::path& sweep_dir, const std::string& run_id) {
  return sweep_dir / "logs" / (run_id + ".log");
}

void create_sweep_folders(const fs::path& sweep_dir) {
  for (const char* part : {"runs", "configs", "logs"}) {
    std::error_code ec;
    fs::create_directories(sweep_dir / part, ec);
    if (ec)  // a --results folder the sweep cannot write: the user's to fix, not a failed run
      throw InputError((sweep_dir / part).string() + ": cannot create the sweep's folder (" + ec.message() +
                       "); pass --results a folder this user can write");
  }
}

// The runs to start, in plan order; marks those another process is writing.
std::deque<SweepRun*> runs_to_start(std::vector<SweepRun>& runs, const fs::path& sweep_dir) {
  std::deque<SweepRun*> queue;
  for (auto& s : runs) {
    if (s.state == RunState::complete) continue;
    const fs::path final_file = run_file(sweep_dir, s.run->id);
    if (run_is_locked(final_file)) {  // another process (a Slurm task, a second launcher) writes it
      s.state = RunState::running_elsewhere;
      continue;
    }
    std::error_code ec;
    fs::remove(final_file.string() + ".partial", ec);  // a crash's leftovers: rerun from scratch
    queue.push_back(&s);
  }
  return queue;
}

// What a finished child left: its run file's status, or why there is none.
void record_exit(SweepRun& s, const ChildExit& ex, const fs::path& sweep_dir, bool interrupted) {
  const fs::path final_file = run_file(sweep_dir, s.run->id);
  std::error_code ec;
  if (fs::exists(final_file, ec)) {
    RunFileSummary summary = read_run_summary(final_file);
    s.state = summary.status == "complete" ? RunState::complete : RunState::failed;
    s.error = summary.error;
  } else if (interrupted) {
    s.state = RunState::interrupted;
    s.error = "stopped by run_sweep on a signal";
  } else {
    s.state = RunState::failed;
    s.error = ex.signal ? "worker killed by signal " + std::to_string(ex.signal)
              : ex.exit_code == 0
                  ? "the run completed but its file " + final_file.string() +
                        " is gone (deleted while the sweep ran?); run the sweep again to redo it"
                  : "worker exited with status " + std::to_string(ex.exit_code) + " without a run file";
    std::string last = ex.exit_code == 0 && !ex.signal ? std::string() : last_line_of(log_file(sweep_dir, s.run->id));
    if (!last.empty()) s.error += ": " + last;
  }
}

}  // namespace

LocalLaunch launch_local(const SweepPlan& plan, std::vector<SweepRun>& runs, const fs::path& sweep_dir,
                         const LocalLaunchOptions& options) {
  create_sweep_folders(sweep_dir);
  SweepLock lock(sweep_dir);
  if (access(options.worker.c_str(), X_OK) != 0)
    throw InputError(options.worker.string() + ": worker program not found or not executable (build pbench first)");

  const int default_threads = std::max(1, available_cores() / options.jobs);
  std::deque<SweepRun*> queue = runs_to_start(runs, sweep_dir);
  size_t elsewhere = 0;
  for (const auto& s : runs) elsewhere += s.state == RunState::running_elsewhere;
  LocalLaunch outcome;
  outcome.skipped = runs.size() - queue.size() - elsewhere;
  if (!options.json)
    std::cerr << "[run_sweep] sweep " << plan.name << ": " << runs.size() << " runs, " << outcome.skipped
              << " already complete, " << (elsewhere ? std::to_string(elsewhere) + " being run by another process, " : "")
              << queue.size() << " to run, " << options.jobs << " at a time\n";

  install_stop_handlers();
  Progress progress(queue.size(), size_t(options.jobs), isatty(STDERR_FILENO) && !options.json);
  std::map<pid_t, std::pair<SweepRun*, Clock::time_point>> running;
  while (!queue.empty() || !running.empty()) {
    while (!outcome.interrupted && !queue.empty() && running.size() < size_t(options.jobs)) {
      SweepRun* s = queue.front();
      queue.pop_front();
      const int threads = int(cfg::get_int(s->run->resolved, "runtime.threads", default_threads));
      const fs::path config_file = write_run_config(plan, *s->run, sweep_dir, threads);
      ChildSpec spec;
      spec.argv = {options.worker.string(), "run", fs::absolute(config_file).string()};
      spec.env = thread_environment(threads);
      spec.log_path = log_file(sweep_dir, s->run->id).string();
      pid_t pid = spawn_child(spec);
      s->state = RunState::running;
      running[pid] = {s, Clock::now()};
    }
    progress.set_running(running.size());
    if (running.empty()) break;
    ChildExit ex = wait_any_child();
    if (g_stop_signal && !outcome.interrupted) {
      outcome.interrupted = true;
      for (const auto& [pid, info] : running) kill(pid, SIGTERM);
      queue.clear();
    }
    if (ex.pid <= 0) continue;
    auto it = running.find(ex.pid);
    if (it == running.end()) continue;
    SweepRun* s = it->second.first;
    s->seconds = std::chrono::duration<double>(Clock::now() - it->second.second).count();
    running.erase(it);
    record_exit(*s, ex, sweep_dir, outcome.interrupted);
    if (s->state == RunState::interrupted) continue;
    if (s->state == RunState::failed && !outcome.disk_full) {
      const long long left = free_bytes(sweep_dir);
      if (left >= 0 && left < kFullDiskBytes) {
        outcome.disk_full = true;
        s->error += " (the results file system has " + std::to_string(left >> 10) + " KiB free)";
        queue.clear();
      }
    }
    if (s->state == RunState::failed && !options.json)
      std::cerr << (isatty(STDERR_FILENO) ? "\r\033[K" : "") << "[run_sweep] run " << s->run->id << " ("
                << join_words(s->run->overrides) << ") failed: " << s->error
                << " (log: " << log_file(sweep_dir, s->run->id).string() << ")\n";
    progress.set_running(running.size());
    progress.finished(s->state == RunState::complete, s->seconds);
  }
  progress.end_line();
  return outcome;
}

}  // namespace pbench
