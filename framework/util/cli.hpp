#pragma once
// Command-line parsing with the exit statuses of ../shared/INTERFACES.md:
// --help prints and exits 0, a usage error prints and exits 2.
#include <CLI/CLI.hpp>
#include <optional>

#include "framework/util/errors.hpp"

namespace pbench {

// A count a user types (--jobs, --threads, --steps) within [min, max]: a plain range, so a bad
// value's message names bounds a person can read ("--jobs: Value 0 not in range 1 to 4096";
// CLI::PositiveNumber's upper bound prints as 1.8e308).
inline CLI::Range count_in(int min, int max) { return CLI::Range(min, max); }
constexpr int kMaxThreads = 4096;

// The exit status when parsing already decided the outcome (help or usage
// error); nullopt when the program should go on.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitInput;
  }
  return std::nullopt;
}

}  // namespace pbench
