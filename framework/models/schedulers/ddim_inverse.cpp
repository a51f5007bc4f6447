#include "framework/models/schedulers/ddim_inverse.hpp"

#include <algorithm>

#include "framework/util/errors.hpp"

namespace pbench::sched {

using namespace detail;

DDIMInverseScheduler::DDIMInverseScheduler(SchedulerConfig config) : config_(std::move(config)), schedule_(config_) {
  initial_alpha_cumprod_ = config_.set_alpha_to_one ? torch::tensor(1.0f) : schedule_.alphas_cumprod[0].clone();
  timesteps_ = torch::arange(config_.num_train_timesteps, torch::kInt64);
}

void DDIMInverseScheduler::set_timesteps(int64_t n) {
  check_num_steps(n, config_);
  if (config_.timestep_spacing == "linspace")
    throw InputError("DDIMInverseScheduler: timestep_spacing 'linspace' is not supported (as in diffusers v0.25.1)");
  std::vector<int64_t> ts = inference_timesteps(config_, n);
  std::reverse(ts.begin(), ts.end());  // ascending
  timesteps_ = int64_tensor(ts);
  num_inference_steps_ = n;
}

StepOutput DDIMInverseScheduler::step(const torch::Tensor& model_output, int64_t timestep,
                                      const torch::Tensor& sample) const {
  if (!num_inference_steps_) throw InputError("DDIMInverseScheduler.step: call set_timesteps first");
  check_timestep(timestep, config_);
  // `timestep` is where the step lands; the step starts k steps below it.
  const int64_t current =
      std::min(timestep - config_.num_train_timesteps / *num_inference_steps_, config_.num_train_timesteps - 1);
  const torch::Tensor alpha_prod_t = current >= 0 ? schedule_.alphas_cumprod[current] : initial_alpha_cumprod_;
  const torch::Tensor alpha_prod_t_next = schedule_.alphas_cumprod[timestep];

  Prediction p = predict(config_.prediction_type, model_output, sample, alpha_prod_t);
  if (config_.clip_sample) p.original = p.original.clamp(-config_.clip_sample_range, config_.clip_sample_range);
  torch::Tensor direction = (1 - alpha_prod_t_next).pow(0.5) * p.epsilon;
  return {alpha_prod_t_next.pow(0.5) * p.original + direction, p.original};
}

}  // namespace pbench::sched
