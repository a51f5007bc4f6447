#include "framework/util/version.hpp"

namespace pbench {
std::string pbench_version() { return PBENCH_VERSION; }
std::string version_line(const std::string& program) {
  return program + " (pbench " + pbench_version() + ", commit " + git_commit() + ")";
}
}  // namespace pbench
