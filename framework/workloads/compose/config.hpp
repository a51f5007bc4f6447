#pragma once
// The compose workload's config, typed (framework/config/options.hpp): the runs whose concepts
// it composes, the prompts that name them together, and the engine's eval section
// (personalize/config.hpp) for the sampler and the metrics. The model and the method come from
// the runs themselves (their /config/resolved).
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/workloads/personalize/config.hpp"
#include "framework/workloads/pipeline_options.hpp"

namespace pbench::compose {

struct ComposeSection {
  std::vector<std::string> runs;
  std::vector<double> weights;
  // Chosen: four of the DreamBooth evaluation contexts with both subjects in them; "{k}" is run k's
  // subject as the method prompts it.
  std::vector<std::string> prompts{"a photo of {1} and {2}", "{1} and {2} on the beach", "{1} and {2} in the snow",
                                   "{1} next to {2} on a wooden table"};
  std::string merge_captions = "mini_world";

  template <class V>
  void fields(V& v) {
    v("runs", runs,
      "personalize run files (results/<sweep>/runs/<id>.h5), one concept each, all of one method and model "
      "(at least two)");
    v("weights", weights, "one weight per run for the method's merge rule (LoRA's sum); [] = 1 each");
    v("prompts", prompts,
      "prompts naming every concept: {1}, {2}, ... = run k's subject, as its method prompts it (LoRA: 'sks cube', "
      "Perfusion: its concept token)");
    v("merge_captions", merge_captions,
      "captions a merge rule encodes (Custom Diffusion's regularization captions): mini_world or a file, one "
      "caption per line (for SD v1.5: captions of real images, e.g. the retrieved regularization images')");
  }
};

struct ComposeOptions {
  personalize::EvalOptions eval;  // the sampler and metrics (num_prompts caps compose.prompts; baseline, at_dvar_stop unused)
  ComposeSection compose;
  Device device = Device::cpu;
  Dtype dtype = Dtype::fp32;

  template <class V>
  void fields(V& v) {
    v("eval", eval, "sampling and scoring (eval.num_prompts caps compose.prompts)");
    v("compose", compose, "the concepts and the prompts that name them together");
    v("device", device, "where the run computes");
    v("dtype", dtype, "the pipeline's weights and activations");
  }
};

ComposeOptions read_options(const cfg::Node& resolved);
const cfg::Node& compose_defaults();
// "{1} and {2} on the beach" with {k} replaced by phrases[k-1].
std::string fill_prompt(const std::string& prompt, const std::vector<std::string>& phrases);
// Workload::check: at least two runs that exist, one weight per run (or none), and prompts that
// name every run's concept; the runs' own contents are read by the run.
void check_config(const cfg::Node& resolved);

}  // namespace pbench::compose
