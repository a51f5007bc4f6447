#include "framework/workloads/personalize/config.hpp"

#include <algorithm>

#include "datasets/dataset.hpp"
#include "framework/config/access.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/train/method.hpp"
#include "framework/util/errors.hpp"
#include "metrics/metric.hpp"

namespace pbench::personalize {

sample::SamplingOptions EvalOptions::sampling() const {
  sample::SamplingOptions o;
  o.num_inference_steps = steps;
  o.guidance_scale = guidance;
  o.eta = eta;
  o.batch_size = batch_size;
  return o;
}

PersonalizeOptions read_options(const cfg::Node& resolved) {
  return cfg::read_declared_options<PersonalizeOptions>(resolved);
}

const cfg::Node& engine_defaults() {
  static const cfg::Node defaults = workload_defaults<PersonalizeOptions>("personalize");
  return defaults;
}

torch::TensorOptions tensor_options(const PersonalizeOptions& options, const cfg::Node& resolved) {
  return pipeline_tensor_options(options.device, options.dtype, resolved);
}

std::vector<std::string> evaluation_prompts(const EvalOptions& eval, const SubjectData& subject) {
  std::vector<std::string> prompts = subject.eval_prompts;
  prompts.resize(size_t(std::min<int64_t>(eval.num_prompts, int64_t(prompts.size()))));
  return prompts;
}

void check_config(const cfg::Node& config) {
  const PersonalizeOptions options = read_options(config);  // types, ranges, choices, unknown keys
  check_dtype_on_device(options.device, options.dtype, config);
  check_metric_inputs(config, "eval.metrics", options.eval.metrics, {"generated", "prompts", "real"}, "personalize");
  models::check_pipeline_spec(options.model.spec());
  // The method section was read and checked with the run config's sections (validate_run_config).
  check_dataset_section(config);
}

}  // namespace pbench::personalize
