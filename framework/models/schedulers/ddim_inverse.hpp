#pragma once
// DDIMInverseScheduler with the semantics of diffusers v0.25.1: the DDIM update run
// backwards, x_t -> x_{t+k}, for inverting an image into the model's noise.
#include <torch/torch.h>

#include <optional>

#include "framework/models/schedulers/noise_schedule.hpp"
#include "framework/models/schedulers/step_math.hpp"

namespace pbench::sched {

// DDIM inversion (x_t -> x_{t+k}). step()'s `timestep` is the TARGET
// timestep, as in diffusers v0.25.1.
class DDIMInverseScheduler {
 public:
  explicit DDIMInverseScheduler(SchedulerConfig config);
  void set_timesteps(int64_t num_inference_steps);
  StepOutput step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample) const;

  const SchedulerConfig& config() const { return config_; }
  const torch::Tensor& timesteps() const { return timesteps_; }  // int64, ascending

 private:
  SchedulerConfig config_;
  NoiseSchedule schedule_;
  torch::Tensor initial_alpha_cumprod_;
  torch::Tensor timesteps_;
  std::optional<int64_t> num_inference_steps_;
};

}  // namespace pbench::sched
