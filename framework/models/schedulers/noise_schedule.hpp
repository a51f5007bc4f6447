#pragma once
// The noise schedule of a scheduler config: betas and alphas_cumprod, computed
// in float32 exactly as diffusers does (a float64 cumprod differs by up to 5e-7,
// ../shared/TRAPS.md), the forward process q(x_t | x_0), and the inference
// timesteps of each spacing.
#include <torch/torch.h>

#include <vector>

#include "framework/models/schedulers/scheduler_config.hpp"

namespace pbench::sched {

// betas and alphas_cumprod of a config (float32), shared by the schedulers.
struct NoiseSchedule {
  explicit NoiseSchedule(const SchedulerConfig& config);
  torch::Tensor betas;           // [T] float32
  torch::Tensor alphas_cumprod;  // [T] float32

  // sqrt(acp[t]) * x0 + sqrt(1 - acp[t]) * noise, t per sample (int64 [B] or 0-d).
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) const;
  // The v-prediction target sqrt(acp[t]) * noise - sqrt(1 - acp[t]) * x0.
  torch::Tensor get_velocity(const torch::Tensor& sample, const torch::Tensor& noise,
                             const torch::Tensor& timesteps) const;
};

// Inference timesteps of diffusers' set_timesteps (descending) for a spacing.
std::vector<int64_t> inference_timesteps(const SchedulerConfig& config, int64_t num_inference_steps);

}  // namespace pbench::sched
