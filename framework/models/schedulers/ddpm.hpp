#pragma once
// DDPMScheduler (Ho et al., arXiv 2006.11239) with the semantics of diffusers v0.25.1.
#include <torch/torch.h>

#include <optional>

#include "framework/models/schedulers/noise_schedule.hpp"
#include "framework/models/schedulers/step_math.hpp"

namespace pbench::sched {

class DDPMScheduler {
 public:
  explicit DDPMScheduler(SchedulerConfig config);
  void set_timesteps(int64_t num_inference_steps);
  // Adds noise when t > 0: the given variance_noise, else drawn from `generator`.
  StepOutput step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample,
                  const std::optional<torch::Tensor>& variance_noise = {},
                  std::optional<torch::Generator> generator = {}) const;
  int64_t previous_timestep(int64_t timestep) const;

  const SchedulerConfig& config() const { return config_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const torch::Tensor& timesteps() const { return timesteps_; }

 private:
  torch::Tensor variance(int64_t t, const std::optional<torch::Tensor>& predicted_variance) const;
  SchedulerConfig config_;
  NoiseSchedule schedule_;
  torch::Tensor timesteps_;
  std::optional<int64_t> num_inference_steps_;  // empty: the 1000-step training schedule
};

}  // namespace pbench::sched
