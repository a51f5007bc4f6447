#include "framework/h5/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

fs::path run_lock_path(const fs::path& final_path) { return fs::path(final_path.string() + ".lock"); }

RunLock::RunLock(const fs::path& final_path) {
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  std::string path = run_lock_path(final_path).string();
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw InputError(path + ": cannot create the run's lock file (" + std::strerror(errno) +
                     "; is the results folder writable?)");
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    close(fd_);
    fd_ = -1;
    throw InputError(final_path.string() + ": another process is writing this run (it holds " + path +
                     "); wait for it, or stop it, before running it again");
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

bool run_is_locked(const fs::path& final_path) {
  std::string path = run_lock_path(final_path).string();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // never locked
  bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return held;
}

}  // namespace pbench
