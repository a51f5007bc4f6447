#include "framework/util/errors.hpp"

#include <iostream>
#include <string>

namespace pbench {
namespace {
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}
}  // namespace

int report_current_exception(const char* program) {
  try {
    throw;
  } catch (const InputError& e) {
    std::cerr << program << ": error: " << one_line(e.what()) << "\n";
    return kExitInput;
  } catch (const RunFailure& e) {
    std::cerr << program << ": failed: " << one_line(e.what()) << "\n";
    return kExitFailed;
  } catch (const std::exception& e) {
    std::cerr << program << ": failed: " << one_line(e.what()) << "\n";
    return kExitFailed;
  } catch (...) {
    std::cerr << program << ": failed: unknown exception\n";
    return kExitFailed;
  }
}

}  // namespace pbench
