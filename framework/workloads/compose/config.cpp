#include "framework/workloads/compose/config.hpp"

#include <filesystem>

#include "framework/util/errors.hpp"
#include "framework/workloads/section_checks.hpp"

namespace pbench::compose {

ComposeOptions read_options(const cfg::Node& resolved) { return cfg::read_declared_options<ComposeOptions>(resolved); }

const cfg::Node& compose_defaults() {
  static const cfg::Node defaults = workload_defaults<ComposeOptions>("compose");
  return defaults;
}

std::string fill_prompt(const std::string& prompt, const std::vector<std::string>& phrases) {
  std::string out = prompt;
  for (size_t k = 0; k < phrases.size(); ++k) {
    const std::string slot = "{" + std::to_string(k + 1) + "}";
    for (size_t at = out.find(slot); at != std::string::npos; at = out.find(slot, at + phrases[k].size()))
      out.replace(at, slot.size(), phrases[k]);
  }
  return out;
}

void check_config(const cfg::Node& resolved) {
  const ComposeOptions options = read_options(resolved);
  check_dtype_on_device(options.device, options.dtype, resolved);
  check_metric_inputs(resolved, "eval.metrics", options.eval.metrics, {"generated", "prompts", "real"}, "compose");
  const ComposeSection& c = options.compose;
  for (const char* section : {"method", "model", "dataset"})
    if (const cfg::Node* given = resolved.find(section))
      throw InputError(given->origin().describe() + ": " + section + ": the compose workload takes the method, the " +
                       "model and the subjects from compose.runs; remove this section");
  if (c.runs.size() < 2)
    throw InputError(where_is(resolved, "compose.runs") +
                     ": composing needs at least two runs, e.g. compose.runs='[results/s/runs/<a>.h5, "
                     "results/s/runs/<b>.h5]'");
  for (const std::string& run : c.runs) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(run, ec))
      throw InputError(where_is(resolved, "compose.runs") + ": '" + run +
                       "' is not a file; expected a personalize run file results/<sweep>/runs/<id>.h5");
  }
  if (!c.weights.empty() && c.weights.size() != c.runs.size())
    throw InputError(where_is(resolved, "compose.weights") + ": " + std::to_string(c.weights.size()) +
                     " weights for " + std::to_string(c.runs.size()) + " runs; give one per run or []");
  if (c.prompts.empty()) throw InputError(where_is(resolved, "compose.prompts") + ": no prompt to sample");
  for (const std::string& p : c.prompts)
    for (size_t k = 1; k <= c.runs.size(); ++k)
      if (p.find("{" + std::to_string(k) + "}") == std::string::npos)
        throw InputError(where_is(resolved, "compose.prompts") + ": '" + p + "' does not name concept {" +
                         std::to_string(k) + "}; every prompt names every run's concept");
}

}  // namespace pbench::compose
