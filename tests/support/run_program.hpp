#pragma once
// Runs a program (no shell) for tests that drive the real binaries.
#include <filesystem>
#include <string>
#include <vector>

namespace pbench::test {
// stdout goes to `out`, stderr to `err` (the same path = one combined file).
// Returns the exit status, or 128 + the signal that ended the program.
int run_program(const std::vector<std::string>& args, const std::filesystem::path& out,
                const std::filesystem::path& err);
}  // namespace pbench::test
