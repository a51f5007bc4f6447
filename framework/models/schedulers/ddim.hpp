#pragma once
// DDIMScheduler (Song et al., arXiv 2010.02502) with the semantics of diffusers v0.25.1.
#include <torch/torch.h>

#include <optional>

#include "framework/models/schedulers/noise_schedule.hpp"
#include "framework/models/schedulers/step_math.hpp"

namespace pbench::sched {

class DDIMScheduler {
 public:
  explicit DDIMScheduler(SchedulerConfig config);
  void set_timesteps(int64_t num_inference_steps);
  // eta > 0 adds std_dev_t * variance_noise; without a given noise one is
  // drawn from `generator` (or the global one).
  StepOutput step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample, double eta = 0.0,
                  bool use_clipped_model_output = false, const std::optional<torch::Tensor>& variance_noise = {},
                  std::optional<torch::Generator> generator = {}) const;

  const SchedulerConfig& config() const { return config_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const torch::Tensor& timesteps() const { return timesteps_; }  // int64, descending
  const torch::Tensor& final_alpha_cumprod() const { return final_alpha_cumprod_; }  // 0-d float32

 private:
  SchedulerConfig config_;
  NoiseSchedule schedule_;
  torch::Tensor final_alpha_cumprod_;
  torch::Tensor timesteps_;
  std::optional<int64_t> num_inference_steps_;
};

}  // namespace pbench::sched
