#include "framework/run/catalog.hpp"

#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/run/workload.hpp"

namespace pbench {

Registry<Workload>& workloads() {
  static Registry<Workload> registry("workload");
  return registry;
}

std::vector<CatalogSection> catalog() {
  // Methods, metrics, datasets and models get their registries with the
  // engine and the models; their sections are listed from the start so the
  // output format never changes.
  return {
      CatalogSection{"methods", {}},
      CatalogSection{"metrics", {}},
      CatalogSection{"datasets", {}},
      CatalogSection{"models", {}},
      CatalogSection{"workloads", workloads().infos()},
  };
}

void validate_run_config(const cfg::Node& resolved) {
  std::string name = cfg::get_string(resolved, "workload", kDefaultWorkload);
  const cfg::Node* at = cfg::lookup(resolved, "workload");
  std::string where = at ? at->origin().describe() + ": workload" : resolved.origin().describe() + ": workload";
  const auto& entry = workloads().get(name, where);
  // The workload's defaults list the sections it reads; each present section must match.
  cfg::Node defaults = parse_entry_defaults(entry.info, "workload");
  if (!defaults.is_map()) return;
  for (size_t i = 0; i < defaults.keys().size(); ++i) {
    const std::string& section = defaults.keys()[i];
    if (const cfg::Node* value = resolved.find(section))
      cfg::validate_against(*value, defaults.values()[i], section, "workload '" + name + "'");
  }
}

}  // namespace pbench
