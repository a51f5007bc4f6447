// libFuzzer target: the YAML config reader and the override parser (framework/config).
// The input's first line is parsed as a command-line override, the rest as a config file,
// then the override is applied, interpolations resolved and the run id computed: any
// malformation must end in InputError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "framework/config/access.hpp"
#include "framework/config/overrides.hpp"
#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"

namespace cfg = pbench::cfg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string override_text = input.substr(0, newline);
  const std::string yaml = newline == std::string::npos ? std::string() : input.substr(newline + 1);
  try {
    cfg::Override o = cfg::parse_override(override_text, "fuzz");
    (void)o;
  } catch (const pbench::InputError&) {
  }
  try {
    cfg::Node node = cfg::parse_yaml_text(yaml, cfg::Origin{"fuzz.yaml", 0});
    cfg::Node resolved = cfg::resolve(node);
    (void)cfg::run_id(resolved);
    (void)cfg::to_yaml(resolved);
  } catch (const pbench::InputError&) {
  }
  return 0;
}
