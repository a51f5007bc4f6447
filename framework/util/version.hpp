#pragma once
#include <string>

namespace pbench {
const char* git_commit();      // generated at build time (cmake/GitCommit.cmake)
std::string pbench_version();  // PBENCH_VERSION from CMake
// "pbench 0.1.0 (commit abc123)", printed by every executable's --version.
std::string version_line(const std::string& program);
}  // namespace pbench
