#include "framework/util/failpoint.hpp"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace pbench {
namespace {
struct Armed {
  std::string name;  // empty: no failpoint armed
  long hits_left = 0;
};

Armed read_environment() {
  Armed a;
  const char* env = std::getenv("PBENCH_FAILPOINT");
  if (!env || !*env) return a;
  std::string spec(env);
  const auto colon = spec.find(':');
  a.name = spec.substr(0, colon);
  a.hits_left = colon == std::string::npos ? 1 : std::strtol(spec.c_str() + colon + 1, nullptr, 10);
  if (a.hits_left < 1) a.hits_left = 1;
  return a;
}
}  // namespace

void failpoint(const char* name) {
  static Armed armed = read_environment();
  if (armed.name.empty() || armed.name != name) return;
  if (--armed.hits_left == 0) raise(SIGKILL);
}

}  // namespace pbench
