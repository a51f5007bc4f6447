#include "framework/models/schedulers/ddpm.hpp"

#include "framework/util/errors.hpp"

namespace pbench::sched {

using namespace detail;

DDPMScheduler::DDPMScheduler(SchedulerConfig config) : config_(std::move(config)), schedule_(config_) {
  timesteps_ = descending_train_timesteps(config_.num_train_timesteps);
}

void DDPMScheduler::set_timesteps(int64_t n) {
  timesteps_ = int64_tensor(inference_timesteps(config_, n));
  num_inference_steps_ = n;
}

int64_t DDPMScheduler::previous_timestep(int64_t t) const {
  const int64_t n = num_inference_steps_ ? *num_inference_steps_ : config_.num_train_timesteps;
  return t - config_.num_train_timesteps / n;
}

// diffusers' DDPMScheduler._get_variance.
torch::Tensor DDPMScheduler::variance(int64_t t, const std::optional<torch::Tensor>& predicted_variance) const {
  const int64_t prev = previous_timestep(t);
  const torch::Tensor alpha_prod_t = schedule_.alphas_cumprod[t];
  const torch::Tensor alpha_prod_t_prev = prev >= 0 ? schedule_.alphas_cumprod[prev] : torch::tensor(1.0f);
  const torch::Tensor current_beta_t = 1 - alpha_prod_t / alpha_prod_t_prev;
  // Posterior variance (eq. 7 of arXiv:2006.11239), kept above zero for the log.
  torch::Tensor variance = ((1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t).clamp_min(1e-20);
  const std::string& type = config_.variance_type;
  if (type == "fixed_small") return variance;
  if (type == "fixed_small_log") return torch::exp(0.5 * torch::log(variance));
  if (type == "fixed_large") return current_beta_t;
  if (type == "fixed_large_log") return torch::log(current_beta_t);
  if (!predicted_variance)
    throw InputError("DDPMScheduler: variance_type " + type + " needs a model output with twice the sample channels");
  if (type == "learned") return *predicted_variance;
  // learned_range: interpolate log-variances by the model's fraction.
  const torch::Tensor frac = (*predicted_variance + 1) / 2;
  return frac * torch::log(current_beta_t) + (1 - frac) * torch::log(variance);
}

StepOutput DDPMScheduler::step(const torch::Tensor& model_output_in, int64_t t, const torch::Tensor& sample,
                               const std::optional<torch::Tensor>& variance_noise,
                               std::optional<torch::Generator> generator) const {
  check_timestep(t, config_);
  torch::Tensor model_output = model_output_in;
  std::optional<torch::Tensor> predicted_variance;
  const bool learned = config_.variance_type == "learned" || config_.variance_type == "learned_range";
  if (learned && model_output.dim() >= 2 && model_output.size(1) == 2 * sample.size(1)) {
    auto parts = torch::split(model_output, sample.size(1), 1);
    model_output = parts[0];
    predicted_variance = parts[1];
  }
  const int64_t prev = previous_timestep(t);
  const torch::Tensor alpha_prod_t = schedule_.alphas_cumprod[t];
  const torch::Tensor alpha_prod_t_prev = prev >= 0 ? schedule_.alphas_cumprod[prev] : torch::tensor(1.0f);
  const torch::Tensor beta_prod_t = 1 - alpha_prod_t;
  const torch::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;
  const torch::Tensor current_alpha_t = alpha_prod_t / alpha_prod_t_prev;
  const torch::Tensor current_beta_t = 1 - current_alpha_t;

  Prediction p = predict(config_.prediction_type, model_output, sample, alpha_prod_t);
  p.original = clip_or_threshold(p.original, config_);

  // Posterior mean (eq. 7 of arXiv:2006.11239).
  const torch::Tensor original_coeff = alpha_prod_t_prev.pow(0.5) * current_beta_t / beta_prod_t;
  const torch::Tensor sample_coeff = current_alpha_t.pow(0.5) * beta_prod_t_prev / beta_prod_t;
  torch::Tensor prev_sample = original_coeff * p.original + sample_coeff * sample;

  if (t > 0) {
    torch::Tensor noise = variance_noise ? *variance_noise : draw_noise(model_output, generator);
    torch::Tensor v = variance(t, predicted_variance);
    torch::Tensor added;
    if (config_.variance_type == "fixed_small_log")
      added = v * noise;  // _get_variance already returned the standard deviation
    else if (config_.variance_type == "learned_range")
      added = torch::exp(0.5 * v) * noise;
    else
      added = v.pow(0.5) * noise;
    prev_sample = prev_sample + added;
  }
  return {prev_sample, p.original};
}

}  // namespace pbench::sched
