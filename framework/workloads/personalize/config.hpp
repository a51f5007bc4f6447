#pragma once
// The personalize workload's config: its sections with their defaults (the
// schema `pbench run` validates against) and the readers of those sections.
#include <torch/torch.h>

#include <string>

#include "datasets/dataset.hpp"
#include "framework/config/access.hpp"
#include "framework/config/node.hpp"
#include "framework/config/schema.hpp"
#include "framework/registry/registry.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/clip_stop.hpp"

namespace pbench::personalize {

// Every key the workload reads, with its default (model, train, dvar, eval, device, dtype).
const char* defaults_yaml();
const cfg::Node& engine_defaults();
// config[key] merged over the workload default of that section.
cfg::Node section_with_defaults(const cfg::Node& config, const std::string& key);
// `device` and `dtype` (cpu / cuda, fp32 / bf16 / fp16).
torch::TensorOptions tensor_options(const cfg::Node& config);
sample::SamplingOptions sampling_options(const cfg::Node& eval);
// The clip_stop section (defaults filled in), checked: InputError naming the key.
ClipStopConfig clip_stop_config(const cfg::Node& clip_stop);
// The first eval.num_prompts of the subject's evaluation prompts (the final samples' and the baseline's).
std::vector<std::string> evaluation_prompts(const cfg::Node& eval, const SubjectData& subject);

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
  return {entry, cfg::with_defaults(section, parse_entry_defaults(entry.info, registry.kind()))};
}
// Workload::check: every value a run would reject, without loading weights or
// images, so that `run_sweep --plan` and `pbench run` stop with exit 2 first.
void check_config(const cfg::Node& config);

}  // namespace pbench::personalize
