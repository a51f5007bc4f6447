#include "framework/registry/registry.hpp"

#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

void throw_unknown_entry(const std::string& kind, const std::string& name, const std::string& where,
                         const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw InputError(where + ": unknown " + kind + " '" + name + "'; registered: " + (list.empty() ? "(none)" : list) +
                   " (see run_sweep --list)");
}

cfg::Node parse_entry_defaults(const EntryInfo& info, const std::string& kind) {
  return cfg::parse_yaml_text(info.defaults_yaml, cfg::Origin{"built-in defaults of " + kind + " '" + info.name + "'", 0});
}

}  // namespace pbench
