#pragma once
// The personalize workload's config, typed: one struct per section the engine
// reads (model, train, dvar, eval, clip_stop, and device / dtype at the root),
// declared with framework/config/options.hpp. Each key's default is its member
// initializer and nowhere else: the workload's registered defaults (what `pbench
// run` validates a config against, what `pbench workloads` shows) are written
// from these structs. A run reads them once from its resolved config.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "framework/config/access.hpp"
#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/config/schema.hpp"
#include "framework/registry/registry.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/clip_stop.hpp"
#include "framework/train/dvar.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/pipeline_options.hpp"
#include "framework/workloads/section_checks.hpp"

namespace pbench::personalize {

struct EvalOptions {
  bool enabled = true;
  int64_t num_prompts = 25;
  int64_t images_per_prompt = 4;
  int64_t steps = 50;
  double guidance = 7.5;
  double eta = 0.0;
  int64_t batch_size = 4;
  std::vector<std::string> metrics{"clip_i", "clip_t", "dino"};
  std::string clip_backbone = "builtin:tiny-clip";
  std::string dino_backbone = "builtin:tiny-dino";
  bool at_dvar_stop = true;
  bool baseline = true;

  // The DDIM sampler of every evaluation image (and of class images and the baseline).
  sample::SamplingOptions sampling() const;

  template <class V>
  void fields(V& v) {
    v("enabled", enabled, "sample and score the run's weights (false: train only)");
    v("num_prompts", num_prompts, "the first N of the subject's evaluation prompts", cfg::at_least(1));
    v("images_per_prompt", images_per_prompt, "images sampled per prompt, each with its own seed", cfg::at_least(1));
    v("steps", steps, "DDIM steps per image", cfg::at_least(1));
    v("guidance", guidance, "classifier-free guidance scale");
    v("eta", eta, "DDIM eta (0: deterministic)", cfg::described(cfg::between(0, 1), "a number in [0, 1]"));
    v("batch_size", batch_size, "images denoised together (results never depend on it)", cfg::at_least(1));
    v("metrics", metrics, "registered metrics scored at every evaluation point");
    v("clip_backbone", clip_backbone, "the CLIP of clip_i / clip_t (a built-in or an HF folder)");
    v("dino_backbone", dino_backbone, "the DINO of dino (a built-in or an HF folder)");
    v("at_dvar_stop", at_dvar_stop, "also score the weights of DVAR's stop step (/metrics/dvar_stop; monitor mode)");
    v("baseline", baseline, "/metrics/baseline: the frozen model on the class-word prompts (cached)");
  }
};

struct PersonalizeOptions {
  ModelOptions model;
  TrainOptions train;
  DvarOptions dvar;
  EvalOptions eval;
  ClipStopOptions clip_stop;  // CLIP early stopping beside DVAR (framework/train/clip_stop.hpp)
  Device device = Device::cpu;
  Dtype dtype = Dtype::fp32;

  template <class V>
  void fields(V& v) {
    v("model", model, "the pipeline to personalize");
    v("train", train, "the training loop");
    v("dvar", dvar, "DVAR's deterministic objective and stop rule");
    v("eval", eval, "sampling and scoring");
    v("clip_stop", clip_stop, "CLIP early stopping beside DVAR");
    v("device", device, "where the run computes");
    v("dtype", dtype, "the pipeline's weights and activations");
  }
};

// The engine's sections of a resolved run config, read and checked (types, ranges,
// choices, unknown keys: InputError naming file:line and key); absent keys keep
// their defaults. The method and dataset sections are their registries'.
PersonalizeOptions read_options(const cfg::Node& resolved);
// The defaults of every section, as a config (the workload's registered schema).
const cfg::Node& engine_defaults();
// `device` and `dtype` as LibTorch options; InputError (at the key of `resolved`)
// when this LibTorch build cannot run them.
torch::TensorOptions tensor_options(const PersonalizeOptions& options, const cfg::Node& resolved);
// The first eval.num_prompts of the subject's evaluation prompts (the final samples' and the baseline's).
std::vector<std::string> evaluation_prompts(const EvalOptions& eval, const SubjectData& subject);

// Workload::check: every value a run would reject, without loading weights or
// images, so that `run_sweep --plan` and `pbench run` stop with exit 2 first.
void check_config(const cfg::Node& config);

}  // namespace pbench::personalize
