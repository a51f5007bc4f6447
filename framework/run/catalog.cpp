#include "framework/run/catalog.hpp"

#include <algorithm>

#include "datasets/dataset.hpp"
#include "framework/models/model_registry.hpp"
#include "framework/train/method.hpp"
#include "metrics/metric.hpp"

#include "framework/config/access.hpp"
#include "framework/config/compose.hpp"
#include "framework/config/schema.hpp"
#include "framework/run/workload.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

std::vector<CatalogSection> catalog() {
  // Methods, metrics, datasets and models get their registries with the
  // engine and the models; their sections are listed from the start so the
  // output format never changes.
  return {
      CatalogSection{"methods", methods().infos()},
      CatalogSection{"metrics", metrics::metrics_registry().infos()},
      CatalogSection{"datasets", datasets().infos()},
      CatalogSection{"models", models::models_registry().infos()},
      CatalogSection{"workloads", workloads().infos()},
  };
}

void install_builtin_group_options() {
  cfg::BuiltinGroupOptions provider;
  provider.groups = {"method"};
  provider.options = [](const std::string& group) {
    return group == "method" ? methods().names() : std::vector<std::string>{};
  };
  provider.config = [](const std::string& group, const std::string& option) {
    return methods().get(option, "method=" + option).info.defaults;
  };
  cfg::set_builtin_group_options(std::move(provider));
}

namespace {
// A registry-backed section (`dataset: {name: …, …}`) must name a registered
// entry and match that entry's defaults key by key.
template <class Factory>
void validate_section(const cfg::Node& resolved, const std::string& key, const Registry<Factory>& registry) {
  const cfg::Node* section = resolved.find(key);
  if (!section) return;
  if (!section->is_map())
    throw InputError(section->origin().describe() + ": " + key + ": expected a map with a `name`, got " +
                     section->describe_value());
  std::string name = cfg::get_string(*section, "name");
  const auto& entry = registry.get(name, section->find("name")->origin().describe() + ": " + key + ".name");
  cfg::validate_against(*section, entry.info.defaults, key,
                        registry.kind() + " '" + name + "'");
}
// Top-level keys every run config may have, whatever its workload reads.
const char* const kCommonRootKeys[] = {"workload", "seed", "runtime", "method", "dataset", "model"};

// A top-level key no one reads would still change the run id (a typo such as
// `trian:` makes a new run with the defaults): refuse it, naming what is known.
void check_root_keys(const cfg::Node& resolved, const cfg::Node& workload_defaults, const std::string& workload) {
  if (!resolved.is_map()) return;
  std::vector<std::string> known(std::begin(kCommonRootKeys), std::end(kCommonRootKeys));
  if (workload_defaults.is_map())
    for (const auto& k : workload_defaults.keys())
      if (std::find(known.begin(), known.end(), k) == known.end()) known.push_back(k);
  for (size_t i = 0; i < resolved.keys().size(); ++i) {
    const std::string& key = resolved.keys()[i];
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string names;
    for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
    throw InputError(resolved.values()[i].origin().describe() + ": " + key + ": unknown top-level key for workload '" +
                     workload + "'; known: " + names);
  }
}

}  // namespace

const ChosenMethod& RunContext::chosen_method() const {
  if (!method) throw InputError(config.origin().describe() + ": this workload needs a `method:` section");
  return *method;
}

CheckedRun validate_run_config(cfg::Node& resolved) {
  CheckedRun checked;
  validate_section(resolved, "dataset", datasets());
  // The typed options: the one check and the one read of the section (RunContext::method).
  if (const cfg::Node* method = resolved.find("method")) checked.method = read_method(*method);
  std::string name = cfg::get_string(resolved, "workload", kDefaultWorkload);
  const cfg::Node* at = cfg::lookup(resolved, "workload");
  std::string where = at ? at->origin().describe() + ": workload" : resolved.origin().describe() + ": workload";
  const auto& entry = workloads().get(name, where);
  if (entry.factory.complete) resolved = entry.factory.complete(resolved);
  // The workload's defaults list the sections it reads; each present section must match.
  const cfg::Node& defaults = entry.info.defaults;
  if (defaults.is_map()) {
    for (size_t i = 0; i < defaults.keys().size(); ++i) {
      const std::string& section = defaults.keys()[i];
      if (const cfg::Node* value = resolved.find(section))
        cfg::validate_against(*value, defaults.values()[i], section, "workload '" + name + "'");
    }
  }
  check_root_keys(resolved, defaults, name);
  // The run's seed: a whole number (`seed=1.5` passed the plan and failed every run, issue 41).
  if (const cfg::Node* seed = resolved.find("seed"); seed && cfg::get_int(resolved, "seed") < 0)
    throw InputError(seed->origin().describe() + ": seed: expected a whole number >= 0, got " + seed->describe_value());
  if (entry.factory.check) entry.factory.check(resolved);
  return checked;
}

}  // namespace pbench
