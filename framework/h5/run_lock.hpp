#pragma once
// One writer per run file, across processes and machines that share the results
// folder: the writer holds an exclusive flock on `<final>.lock` for its whole life.
// run_sweep (local) and Slurm array tasks may then meet on one run id (a resubmission
// while an earlier array still runs, two launchers on one sweep) without two processes
// writing one `.partial`: the second is refused, and nobody deletes a `.partial` whose
// lock is held. The lock dies with its process (kill -9, scancel, node reboot), so a
// killed run leaves a `.partial` that is unlocked, i.e. stale, and is rerun.
// flock on NFS: Linux maps it to fcntl byte-range locks (NFSv4: server-side), which is
// what cluster results folders need.
#include <filesystem>

namespace pbench {

class RunLock {
 public:
  // Throws InputError naming the run when another process holds it.
  explicit RunLock(const std::filesystem::path& final_path);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

std::filesystem::path run_lock_path(const std::filesystem::path& final_path);
// True while some process writes this run (its lock is held); probes without blocking.
bool run_is_locked(const std::filesystem::path& final_path);

}  // namespace pbench
