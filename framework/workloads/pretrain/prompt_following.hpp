#pragma once
// Does builtin:mini draw what the prompt says? (issue 36's evidence.) The
// captions of held-out scenes — (class, colour, background) triples never
// rendered in training — are sampled with classifier-free guidance and DDIM,
// and the metric CLIP (builtin:mini-clip) classifies each sample's class,
// colour and background by zero-shot argmax, as it does real renders of the
// same scenes: the renders' accuracy is the ceiling the metric allows.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>

#include "framework/models/metric_backbones.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/world_probes.hpp"

namespace pbench::pretrain {

struct PromptFollowingOptions {
  double guidance_scale = 5.0;
  int64_t num_inference_steps = 50;
  int64_t seed = 0;
  int64_t batch_size = 16;
};

struct PromptFollowing {
  ZeroShotAccuracy samples;  // the pipeline's samples of the captions
  ZeroShotAccuracy renders;  // the scenes themselves (ceiling)
  int64_t prompts = 0;
};

// One sample per scene of `held_out`, captioned by its own caption.
PromptFollowing prompt_following(models::Pipeline& pipeline, const models::ClipBackbone& clip,
                                 const ScenePool& held_out, const PromptFollowingOptions& options);

// `images_u8` [rows * cols, R, R, 3] as one PNG, row-major.
void write_image_grid(const std::filesystem::path& file, const torch::Tensor& images_u8, int64_t cols);

}  // namespace pbench::pretrain
