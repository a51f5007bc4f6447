#pragma once
// Error types and the exit-status contract of ../shared/INTERFACES.md:
//   0 success, 1 a check or a run failed, 2 usage or input error.
// Every message is one line naming the file, the key or tensor, and what was
// expected, so the type alone decides the exit status.
#include <stdexcept>
#include <string>

namespace pbench {

enum ExitCode : int { kExitOk = 0, kExitFailed = 1, kExitInput = 2 };

// Bad configuration, bad file, missing weights, bad command line: exit 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A run or a check that executed and failed: exit 1.
class RunFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Maps an in-flight exception to the exit status and prints it as one line on
// stderr prefixed with the program name. Call from a catch(...) block.
int report_current_exception(const char* program);

}  // namespace pbench
