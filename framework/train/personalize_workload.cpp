// The `personalize` workload: what `pbench run` does for a method run.
//   load the pipeline (model.name) -> load the subject (dataset) -> attach the
//   method -> count parameters (this model and SD v1.5) -> train with DVAR ->
//   save the learned delta next to the run file.
// Sampling and metrics (Engine II) plug in after training.
#include "framework/train/personalize_workload.hpp"

#include <ostream>

#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/io/image_cache.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

// Every key the engine reads, with its default: the schema `pbench run`
// validates the run config's engine sections against.
constexpr const char* kDefaults = R"(model:
  name: builtin:tiny
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
  flip: false
  log_every: 10
  save_delta: true
dvar:
  mode: monitor
  window: 200
  threshold: 0.15
  every: 1
  eval_batch_size: 4
eval: null
device: cpu
dtype: fp32
)";

const cfg::Node& engine_defaults() {
  static const cfg::Node defaults = cfg::parse_yaml_text(kDefaults, {"built-in defaults of workload 'personalize'", 0});
  return defaults;
}

cfg::Node section_with_defaults(const cfg::Node& config, const std::string& key, const cfg::Node& defaults) {
  const cfg::Node* s = config.find(key);
  const cfg::Node* d = defaults.find(key);
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

ParamCounts to_counts(const std::string& method, const MethodCounts& c) {
  return ParamCounts{method, c.trainable, c.total, c.delta_bytes_fp32, c.delta_bytes_fp16};
}

void run_personalize(RunContext& ctx) {
  const cfg::Node& config = ctx.config;
  const cfg::Node& defaults = engine_defaults();
  cfg::Node model = section_with_defaults(config, "model", defaults);
  cfg::Node train = section_with_defaults(config, "train", defaults);
  cfg::Node dvar = section_with_defaults(config, "dvar", defaults);
  TrainConfig train_config = TrainConfig::from_section(train);
  DvarConfig dvar_config = dvar_config_from_section(dvar);
  torch::TensorOptions options = tensor_options(config);

  const cfg::Node& method_section = cfg::require(config, "method");
  std::string method_name = cfg::get_string(method_section, "name");
  const auto& method_entry = methods().get(method_name, method_section.origin().describe() + ": method.name");
  cfg::Node method_full = cfg::with_defaults(method_section, parse_entry_defaults(method_entry.info, "method"));

  const cfg::Node& dataset_section = cfg::require(config, "dataset");
  const auto& dataset_entry =
      datasets().get(cfg::get_string(dataset_section, "name"), dataset_section.origin().describe() + ": dataset.name");
  cfg::Node dataset_full = cfg::with_defaults(dataset_section, parse_entry_defaults(dataset_entry.info, "dataset"));

  ctx.log << "[personalize] model " << cfg::get_string(model, "name") << ", method " << method_name << ", subject "
          << cfg::get_string(dataset_full, "subject") << "\n";
  models::Pipeline pipeline = models::load_pipeline(cfg::get_string(model, "name"), options);
  fs::path cache = fs::path(cfg::get_string(config, "runtime.cache_dir", default_cache_dir().string()));
  SubjectData subject = dataset_entry.factory.load(dataset_full, int(pipeline.resolution), cache);

  // Parameter counts on SD v1.5 come from a fresh instance on the meta-device architecture.
  {
    models::Pipeline sd15 = models::sd15_meta_pipeline();
    ctx.file.set_params("params/sd15", to_counts(method_name, count_method(method_full, sd15)));
  }
  std::unique_ptr<Method> method = method_entry.factory.create(method_full);
  freeze_pipeline(pipeline);
  MethodTarget target{pipeline, &subject};
  method->attach(target);
  MethodCounts counts = counts_of_attached(*method, pipeline);
  ctx.file.set_params("params", to_counts(method_name, counts));
  ctx.log << "[personalize] " << method->describe() << ": " << counts.trainable << " trainable parameters\n";

  DvarSettings dvar_attrs{dvar_config.window, dvar_config.threshold, dvar_config.mode, -1};
  ctx.file.set_dvar(dvar_attrs);
  ctx.file.flush();

  Trainer trainer(pipeline, *method, subject, train_config, dvar_config, ctx.seed);
  int64_t since_flush = 0;
  TrainCallbacks callbacks;
  callbacks.log = &ctx.log;
  callbacks.on_step = [&](int64_t step, float loss, float lr, double wall) {
    ctx.file.append_train(step, loss, lr, wall);
    if (++since_flush >= 25) {
      ctx.file.flush();
      since_flush = 0;
    }
  };
  callbacks.on_dvar = [&](int64_t step, float objective, float ratio) { ctx.file.append_dvar(step, objective, ratio); };
  TrainResult result = trainer.run(callbacks);
  dvar_attrs.stop_step = result.dvar_stop_step;
  ctx.file.set_dvar(dvar_attrs);

  if (cfg::get_bool(train, "save_delta")) {
    fs::path base = ctx.file.final_path();
    base.replace_extension("");
    save_safetensors(base.string() + ".delta.safetensors", method->delta(), {{"method", method_name}, {"run_id", ctx.run_id}});
    if (!result.delta_at_dvar_stop.empty())
      save_safetensors(base.string() + ".dvar_stop.delta.safetensors", result.delta_at_dvar_stop,
                       {{"method", method_name}, {"run_id", ctx.run_id}, {"step", std::to_string(result.dvar_stop_step)}});
  }
  ctx.log << "[personalize] trained " << result.steps_trained << " steps in " << result.seconds << " s; final loss "
          << result.last_loss << "; DVAR stop step " << result.dvar_stop_step << "\n";
}

}  // namespace

void register_personalize_workload(Registry<Workload>& registry) {
  registry.add(EntryInfo{kDefaultWorkload, "train a method on one subject with DVAR, then evaluate it (the engine)", kDefaults},
               run_personalize);
}

}  // namespace pbench
