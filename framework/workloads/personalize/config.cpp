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
  static const cfg::Node defaults = [] {
    cfg::Node d = cfg::options_node<PersonalizeOptions>();
    d.set_origin_recursive(cfg::Origin{"built-in defaults of workload 'personalize'", 0});
    return d;
  }();
  return defaults;
}

namespace {

// "<file:line>: <key>" of a key of the resolved config, or of the config itself when it is absent.
std::string where_is(const cfg::Node& resolved, const std::string& key) {
  const cfg::Node* n = cfg::lookup(resolved, key);
  return (n ? n->origin().describe() : resolved.origin().describe()) + ": " + key;
}

// What no machine could run: refused at plan time, unlike a missing CUDA device
// (the planning machine of a Slurm sweep may have no GPU).
void check_dtype_on_device(const PersonalizeOptions& options, const cfg::Node& resolved) {
  if (options.dtype == Dtype::fp16 && options.device == Device::cpu)
    throw InputError(where_is(resolved, "dtype") +
                     ": fp16 is not supported on CPU by LibTorch 1.13 (addmm for Half); use fp32 or bf16");
}

}  // namespace

torch::TensorOptions tensor_options(const PersonalizeOptions& options, const cfg::Node& resolved) {
  check_dtype_on_device(options, resolved);
  torch::TensorOptions o;
  if (options.device == Device::cuda) {
    if (!torch::cuda::is_available())
      throw InputError(where_is(resolved, "device") + ": 'cuda' but this LibTorch build sees no CUDA device; use device=cpu");
    o = o.device(torch::kCUDA);
  }
  if (options.dtype == Dtype::fp16) {
    o = o.dtype(torch::kFloat16);
  } else if (options.dtype == Dtype::bf16) {
    o = o.dtype(torch::kBFloat16);
  }
  return o;
}

std::vector<std::string> evaluation_prompts(const EvalOptions& eval, const SubjectData& subject) {
  std::vector<std::string> prompts = subject.eval_prompts;
  prompts.resize(size_t(std::min<int64_t>(eval.num_prompts, int64_t(prompts.size()))));
  return prompts;
}

void check_config(const cfg::Node& config) {
  const PersonalizeOptions options = read_options(config);  // types, ranges, choices, unknown keys
  check_dtype_on_device(options, config);
  for (const auto& name : options.eval.metrics) {
    const auto& metric = metrics::metrics_registry().get(name, where_is(config, "eval.metrics"));
    for (const auto& input : metric.factory.consumes)
      if (input != "generated" && input != "prompts" && input != "real")
        throw InputError(where_is(config, "eval.metrics") + ": metric '" + name + "' needs " + input +
                         " images, which the personalize workload does not have");
  }
  models::check_pipeline_spec(options.model.spec());

  auto method = chosen_entry(config, "method", methods());
  // The method's typed options: types, ranges (lr >= 0 and finite, rank >= 1, …), choices.
  method.entry.factory.create(method.section);

  auto dataset = chosen_entry(config, "dataset", datasets());
  const cfg::Node& dataset_full = dataset.section;
  const std::string subject = cfg::get_string(dataset_full, "subject");
  const std::vector<std::string> subjects = dataset.entry.factory.subjects(dataset_full);
  if (std::find(subjects.begin(), subjects.end(), subject) == subjects.end()) {
    std::string names;
    for (const auto& n : subjects) names += (names.empty() ? "" : ", ") + n;
    throw InputError(where_is(config, "dataset.subject") + ": unknown " + cfg::get_string(dataset_full, "name") +
                     " subject '" + subject + "'; subjects: " + names + ", or all");
  }
}


}  // namespace pbench::personalize
