#pragma once
// Checks and look-ups of config sections that several workloads read alike:
// the registry entry a section names, the dataset's subject, and whether the
// metrics a config asks for have the inputs the workload provides.
#include <string>
#include <vector>

#include "framework/config/access.hpp"
#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/config/schema.hpp"
#include "framework/registry/registry.hpp"

namespace pbench {

// The registry entry a section names (`method:`, `dataset:`) and that section merged over the
// entry's registry defaults; InputError naming the section when it or its name is wrong.
template <class Factory>
struct ChosenEntry {
  const typename Registry<Factory>::Entry& entry;
  cfg::Node section;
};
template <class Factory>
ChosenEntry<Factory> chosen_entry(const cfg::Node& config, const std::string& key, const Registry<Factory>& registry) {
  const cfg::Node& section = cfg::require(config, key);
  const auto& entry = registry.get(cfg::get_string(section, "name"), section.origin().describe() + ": " + key + ".name");
  return {entry, cfg::with_defaults(section, entry.info.defaults)};
}
// A workload's registered defaults: every key of its typed options struct with its default,
// each value's origin naming the workload (what messages about a default point to).
template <class Options>
cfg::Node workload_defaults(const std::string& workload) {
  cfg::Node d = cfg::options_node<Options>();
  d.set_origin_recursive(cfg::Origin{"built-in defaults of workload '" + workload + "'", 0});
  return d;
}

// InputError at `resolved`'s dataset.subject when the dataset section's subject is not one of
// its dataset's subjects (listing them), or at a count (num_images, num_eval_prompts) outside
// 1..kMaxDatasetCount: 0 prompts made "complete" runs of NaN metrics, 1e9 images ran out of
// memory (issue 41). The dataset section itself must be present.
void check_dataset_section(const cfg::Node& resolved);
inline constexpr int64_t kMaxDatasetCount = 10000;

// InputError at `resolved`'s `key` when a metric of `names` is unregistered or consumes an
// input (metrics/metric.hpp kMetricInputKinds) that `workload` does not have (`available`).
void check_metric_inputs(const cfg::Node& resolved, const std::string& key, const std::vector<std::string>& names,
                         const std::vector<std::string>& available, const std::string& workload);

}  // namespace pbench
