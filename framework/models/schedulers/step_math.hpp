#pragma once
// What every scheduler's step shares (diffusers v0.25.1): the step's output,
// x0 and epsilon from the model output for each prediction type, clipping and
// dynamic thresholding of x0, argument checks. Per-step scalars are 0-d float32
// tensors, as the reference computes them.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "framework/models/schedulers/scheduler_config.hpp"

namespace pbench::sched {

struct StepOutput {
  torch::Tensor prev_sample;
  torch::Tensor pred_original_sample;
};

namespace detail {

// x0 and epsilon from the model output for each prediction type.
struct Prediction {
  torch::Tensor original;
  torch::Tensor epsilon;
};
Prediction predict(const std::string& type, const torch::Tensor& model_output, const torch::Tensor& sample,
                   const torch::Tensor& alpha_prod_t);
// Dynamic thresholding (Imagen) when config.thresholding, else clipping when config.clip_sample.
torch::Tensor clip_or_threshold(const torch::Tensor& x0, const SchedulerConfig& config);
// InputError for a timestep outside [0, num_train_timesteps).
void check_timestep(int64_t t, const SchedulerConfig& config);
// InputError for a step count outside [1, num_train_timesteps].
void check_num_steps(int64_t n, const SchedulerConfig& config);
// Standard normal noise shaped as `like`, from `generator` or the global one.
torch::Tensor draw_noise(const torch::Tensor& like, const std::optional<torch::Generator>& generator);
torch::Tensor int64_tensor(const std::vector<int64_t>& v);
// T-1, T-2, …, 0: the timesteps before set_timesteps.
torch::Tensor descending_train_timesteps(int64_t n);

}  // namespace detail

}  // namespace pbench::sched
