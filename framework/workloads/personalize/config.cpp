#include "framework/workloads/personalize/config.hpp"

#include <algorithm>
#include <cmath>

#include "datasets/dataset.hpp"
#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/models/pipeline.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "metrics/metric.hpp"

namespace pbench::personalize {
namespace {

// Every key the engine reads, with its default: the schema `pbench run`
// validates the run config's engine sections against.
constexpr const char* kDefaults = R"(model:
  name: builtin:tiny
  path: null
train:
  steps: 100
  batch_size: 2
  grad_accum: 1
  lr: 1.0e-4
  lr_schedule: constant
  warmup_steps: 0
  weight_decay: 0.01
  adam_beta1: 0.9
  adam_beta2: 0.999
  adam_eps: 1.0e-8
  max_grad_norm: 1.0
  num_class_images: null   # caps every method's class-image count (null = the method's own)
  flip: false
  log_every: 10
  save_delta: true
dvar:
  mode: monitor
  window: 200
  threshold: 0.15
  every: 1
  eval_batch_size: 4
eval:
  enabled: true
  num_prompts: 25
  images_per_prompt: 4
  steps: 50
  guidance: 7.5
  eta: 0.0
  batch_size: 4
  metrics: [clip_i, clip_t, dino]
  clip_backbone: builtin:tiny-clip
  dino_backbone: builtin:tiny-dino
  at_dvar_stop: true
  baseline: true       # /metrics/baseline: the frozen model on the class-word prompts (cached)
clip_stop:             # CLIP early stopping beside DVAR (framework/train/clip_stop.hpp)
  mode: monitor        # monitor | stop | off
  every: 0             # K steps between checks; 0 = ceil(train.steps / 10)
  num_prompts: 8       # evaluation prompts per check, one image each (the paper's 8)
  sampling_steps: 0    # DDIM steps per check image; 0 = eval.steps
  delta: 0.05          # the paper's improvement threshold on CLIP-I
  patience: 5          # the paper's P: stop after P + 1 checks in a row without improvement
  at_stop: true        # evaluate the weights of the stop step as /metrics/clip_stop (monitor mode)
device: cpu
dtype: fp32
)";

}  // namespace

const char* defaults_yaml() { return kDefaults; }

const cfg::Node& engine_defaults() {
  static const cfg::Node defaults = cfg::parse_yaml_text(kDefaults, {"built-in defaults of workload 'personalize'", 0});
  return defaults;
}

cfg::Node section_with_defaults(const cfg::Node& config, const std::string& key) {
  const cfg::Node* s = config.find(key);
  const cfg::Node* d = engine_defaults().find(key);
  return cfg::with_defaults(s ? *s : cfg::Node::null(config.origin()), d ? *d : cfg::Node::null());
}

torch::TensorOptions tensor_options(const cfg::Node& config) {
  std::string device = cfg::get_string(config, "device", "cpu");
  std::string dtype = cfg::get_string(config, "dtype", "fp32");
  const cfg::Node* at = config.find("device");
  std::string where = at ? at->origin().describe() + ": " : std::string();
  torch::TensorOptions o;
  if (device == "cuda") {
    if (!torch::cuda::is_available())
      throw InputError(where + "device: 'cuda' but this LibTorch build sees no CUDA device; use device=cpu");
    o = o.device(torch::kCUDA);
  } else if (device != "cpu") {
    throw InputError(where + "device: expected cpu or cuda, got '" + device + "'");
  }
  if (dtype == "fp16") {
    if (device == "cpu")
      throw InputError(where + "dtype: fp16 is not supported on CPU by LibTorch 1.13 (addmm for Half); use fp32 or bf16");
    o = o.dtype(torch::kFloat16);
  } else if (dtype == "bf16") {
    o = o.dtype(torch::kBFloat16);
  } else if (dtype != "fp32") {
    throw InputError(where + "dtype: expected fp32, bf16 or fp16, got '" + dtype + "'");
  }
  return o;
}

sample::SamplingOptions sampling_options(const cfg::Node& eval) {
  sample::SamplingOptions o;
  o.num_inference_steps = cfg::get_int(eval, "steps");
  o.guidance_scale = cfg::get_double(eval, "guidance");
  o.eta = cfg::get_double(eval, "eta");
  o.batch_size = cfg::get_int(eval, "batch_size");
  return o;
}

std::vector<std::string> evaluation_prompts(const cfg::Node& eval, const SubjectData& subject) {
  std::vector<std::string> prompts = subject.eval_prompts;
  prompts.resize(size_t(std::min<int64_t>(cfg::get_int(eval, "num_prompts"), int64_t(prompts.size()))));
  return prompts;
}

namespace {

// A key of `section` at file:line, for errors about its value.
std::string where_is(const cfg::Node& section, const std::string& prefix, const std::string& key) {
  const cfg::Node* n = section.find(key);
  return (n ? n->origin().describe() : section.origin().describe()) + ": " + prefix + "." + key;
}

void require_at_least(const cfg::Node& section, const std::string& prefix, const std::string& key, int64_t least) {
  int64_t v = cfg::get_int(section, key);
  if (v < least)
    throw InputError(where_is(section, prefix, key) + ": expected an integer >= " + std::to_string(least) + ", got " +
                     std::to_string(v));
}

}  // namespace

ClipStopConfig clip_stop_config(const cfg::Node& c) {
  ClipStopConfig o;
  o.mode = cfg::get_string(c, "mode");
  if (o.mode != "monitor" && o.mode != "stop" && o.mode != "off")
    throw InputError(where_is(c, "clip_stop", "mode") + ": expected monitor, stop or off, got '" + o.mode + "'");
  require_at_least(c, "clip_stop", "every", 0);
  require_at_least(c, "clip_stop", "num_prompts", 1);
  require_at_least(c, "clip_stop", "sampling_steps", 0);
  require_at_least(c, "clip_stop", "patience", 0);
  o.every = cfg::get_int(c, "every");
  o.num_prompts = cfg::get_int(c, "num_prompts");
  o.sampling_steps = cfg::get_int(c, "sampling_steps");
  o.patience = cfg::get_int(c, "patience");
  o.delta = cfg::get_double(c, "delta");
  if (!std::isfinite(o.delta) || o.delta < 0)
    throw InputError(where_is(c, "clip_stop", "delta") + ": expected a finite number >= 0 (a CLIP-I gain)");
  return o;
}

void check_config(const cfg::Node& config) {
  cfg::Node train = section_with_defaults(config, "train");
  TrainConfig::from_section(train);
  if (const cfg::Node* cap = train.find("num_class_images"); cap && !cap->is_null()) require_at_least(train, "train", "num_class_images", 1);
  dvar_config_from_section(section_with_defaults(config, "dvar"));
  clip_stop_config(section_with_defaults(config, "clip_stop"));
  cfg::Node eval = section_with_defaults(config, "eval");
  for (const char* key : {"steps", "batch_size", "images_per_prompt", "num_prompts"}) require_at_least(eval, "eval", key, 1);
  double eta = cfg::get_double(eval, "eta"), guidance = cfg::get_double(eval, "guidance");
  if (!(eta >= 0 && eta <= 1)) throw InputError(where_is(eval, "eval", "eta") + ": expected a number in [0, 1]");
  if (!std::isfinite(guidance)) throw InputError(where_is(eval, "eval", "guidance") + ": expected a finite number");
  for (const auto& name : string_list(eval, "metrics")) {
    const auto& metric = metrics::metrics_registry().get(name, where_is(eval, "eval", "metrics"));
    for (const auto& input : metric.factory.consumes)
      if (input != "generated" && input != "prompts" && input != "real")
        throw InputError(where_is(eval, "eval", "metrics") + ": metric '" + name + "' needs " + input +
                         " images, which the personalize workload does not have");
  }

  cfg::Node model = section_with_defaults(config, "model");
  models::check_pipeline_spec(cfg::get_string(model, "path", cfg::get_string(model, "name")));

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
    throw InputError(where_is(dataset_full, "dataset", "subject") + ": unknown " + cfg::get_string(dataset_full, "name") +
                     " subject '" + subject + "'; subjects: " + names + ", or all");
  }
}


}  // namespace pbench::personalize
