#include "framework/workloads/section_checks.hpp"

#include <algorithm>

#include "datasets/dataset.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/pipeline_options.hpp"
#include "metrics/metric.hpp"

namespace pbench {

void check_dataset_section(const cfg::Node& resolved) {
  auto dataset = chosen_entry(resolved, "dataset", datasets());
  const cfg::Node& section = dataset.section;
  for (const char* key : {"num_images", "num_eval_prompts"}) {
    if (!section.find(key)) continue;
    const int64_t n = cfg::get_int(section, key);
    if (n < 1 || n > kMaxDatasetCount)
      throw InputError(where_is(resolved, std::string("dataset.") + key) + ": expected 1.." +
                       std::to_string(kMaxDatasetCount) + ", got " + std::to_string(n));
  }
  const std::string subject = cfg::get_string(section, "subject");
  const std::vector<std::string> subjects = dataset.entry.factory.subjects(section);
  if (std::find(subjects.begin(), subjects.end(), subject) != subjects.end()) return;
  std::string names;
  for (const auto& n : subjects) names += (names.empty() ? "" : ", ") + n;
  throw InputError(where_is(resolved, "dataset.subject") + ": unknown " + cfg::get_string(section, "name") +
                   " subject '" + subject + "'; subjects: " + names + ", or all");
}

void check_metric_inputs(const cfg::Node& resolved, const std::string& key, const std::vector<std::string>& names,
                         const std::vector<std::string>& available, const std::string& workload) {
  for (const auto& name : names) {
    const auto& metric = metrics::metrics_registry().get(name, where_is(resolved, key));
    for (const auto& input : metric.factory.consumes)
      if (std::find(available.begin(), available.end(), input) == available.end())
        throw InputError(where_is(resolved, key) + ": metric '" + name + "' needs " + input + " images, which the " +
                         workload + " workload does not have");
  }
}

}  // namespace pbench
