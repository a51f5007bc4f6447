#pragma once
// SINE's model-based classifier-free guidance (Zhang et al., arXiv 2212.04489;
// zhang-zx/SINE ldm/models/diffusion/guidance_ddim.py `DDIMSinSampler`): a frozen model
// prompted with the edit and a model fine-tuned on one image, prompted with that image's
// prompt, denoise one latent together. At each DDIM step t, with u the frozen model's
// unconditional prediction, c its prediction for the edit prompt and s the fine-tuned model's
// for the source prompt, all on the same latent x_t:
//   t_min <= t <= t_max:  ε = u + w · (β · c + (1 − β) · s − u)
//   otherwise:            ε = u + w · (c − u)
// so the fine-tuned model lays out the early, coarse steps (the image's structure) and the
// frozen model's edit prompt finishes the rest. β is the reference's cond_beta (its README:
// 0.4, t in [500, 1000], w 10, 100 DDIM steps, η 0). The reference also steps a second latent
// with the fine-tuned model's own guided ε but overwrites it with x_t before every step
// (`img_sin = img`), so only the shared latent matters: pbench runs that one and skips the
// fine-tuned model's unconditional pass, whose result the reference throws away.
#include <torch/torch.h>

#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_inversion.hpp"

namespace pbench::sample {

struct ModelGuidanceOptions {
  int64_t num_steps = 100;
  double guidance = 10.0;  // w (>= 1); 1 runs no unconditional pass
  double beta = 0.4;       // weight of the frozen model's edit prediction inside [t_min, t_max]
  int64_t t_min = 500;     // the fine-tuned model guides timesteps t_min <= t <= t_max
  int64_t t_max = 1000;
};

// ε of one step from the three predictions, as above (`in_range`: t_min <= t <= t_max).
torch::Tensor model_guided_noise(const torch::Tensor& uncond, const torch::Tensor& edit, const torch::Tensor& tuned,
                                 const ModelGuidanceOptions& options, bool in_range);

// Denoises `z_t` ([1, C, h, w], the initial noise) with `frozen` on `edit_context` (and
// `uncond`) and `tuned` on `source_context`; both pipelines share the frozen one's scheduler.
// Returns z_0. InputError for guidance < 1, beta outside [0, 1] or t_min > t_max.
torch::Tensor model_guided_sample(models::Pipeline& frozen, models::Pipeline& tuned, const torch::Tensor& z_t,
                                  const torch::Tensor& edit_context, const torch::Tensor& source_context,
                                  const torch::Tensor& uncond, const ModelGuidanceOptions& options,
                                  const StepCallback& on_step = {});

}  // namespace pbench::sample
