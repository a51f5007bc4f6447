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

cfg::Node yaml_defaults(const std::string& text) { return cfg::parse_yaml_text(text, cfg::Origin{"built-in defaults", 0}); }

}  // namespace pbench
