#include "framework/models/schedulers/ddim.hpp"

#include "framework/util/errors.hpp"

namespace pbench::sched {

using namespace detail;

DDIMScheduler::DDIMScheduler(SchedulerConfig config) : config_(std::move(config)), schedule_(config_) {
  final_alpha_cumprod_ =
      config_.set_alpha_to_one ? torch::tensor(1.0f) : schedule_.alphas_cumprod[0].clone();
  timesteps_ = descending_train_timesteps(config_.num_train_timesteps);
}

void DDIMScheduler::set_timesteps(int64_t n) {
  timesteps_ = int64_tensor(inference_timesteps(config_, n));
  num_inference_steps_ = n;
}

StepOutput DDIMScheduler::step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample,
                               double eta, bool use_clipped_model_output,
                               const std::optional<torch::Tensor>& variance_noise,
                               std::optional<torch::Generator> generator) const {
  if (!num_inference_steps_) throw InputError("DDIMScheduler.step: call set_timesteps first");
  check_timestep(timestep, config_);
  // 1. The previous timestep, k = T / num_inference_steps below this one.
  const int64_t prev = timestep - config_.num_train_timesteps / *num_inference_steps_;
  // 2. ᾱ_t and ᾱ_{t-k} (the final ᾱ past the first timestep).
  const torch::Tensor alpha_prod_t = schedule_.alphas_cumprod[timestep];
  const torch::Tensor alpha_prod_t_prev = prev >= 0 ? schedule_.alphas_cumprod[prev] : final_alpha_cumprod_;
  const torch::Tensor beta_prod_t = 1 - alpha_prod_t;

  // 3. The predicted x0 ("predicted x_0" of eq. 12 of arXiv 2010.02502) and ε, by prediction type;
  // 4. x0 clipped or thresholded.
  Prediction p = predict(config_.prediction_type, model_output, sample, alpha_prod_t);
  p.original = clip_or_threshold(p.original, config_);

  // 5. sigma_t of DDIM (eq. 16 of arXiv:2010.02502), scaled by eta.
  const torch::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;
  const torch::Tensor variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev);
  const torch::Tensor std_dev_t = variance.pow(0.5) * eta;
  if (use_clipped_model_output)
    p.epsilon = (sample - alpha_prod_t.pow(0.5) * p.original) / beta_prod_t.pow(0.5);

  // 6. The "direction pointing to x_t" of eq. 12; 7. x_{t-k} without noise (eq. 12);
  torch::Tensor direction = (1 - alpha_prod_t_prev - std_dev_t.pow(2)).pow(0.5) * p.epsilon;
  torch::Tensor prev_sample = alpha_prod_t_prev.pow(0.5) * p.original + direction;
  // 8. plus σ_t·z when eta > 0.
  if (eta > 0) {
    torch::Tensor noise = variance_noise ? *variance_noise : draw_noise(model_output, generator);
    prev_sample = prev_sample + std_dev_t * noise;
  }
  return {prev_sample, p.original};
}

}  // namespace pbench::sched
