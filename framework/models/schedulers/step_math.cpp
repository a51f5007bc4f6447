#include "framework/models/schedulers/step_math.hpp"

#include "framework/util/errors.hpp"

namespace pbench::sched::detail {
namespace {

// Dynamic thresholding (Imagen) as diffusers' _threshold_sample.
torch::Tensor threshold_sample(const torch::Tensor& sample, const SchedulerConfig& c) {
  auto dtype = sample.scalar_type();
  torch::Tensor s = (dtype == torch::kFloat32 || dtype == torch::kFloat64) ? sample : sample.to(torch::kFloat32);
  auto shape = s.sizes().vec();
  s = s.reshape({shape[0], -1});
  torch::Tensor q = torch::quantile(s.abs(), c.dynamic_thresholding_ratio, 1);
  q = torch::clamp(q, 1.0, c.sample_max_value).unsqueeze(1);
  s = torch::clamp(s, -q, q) / q;
  return s.reshape(shape).to(dtype);
}

}  // namespace

Prediction predict(const std::string& type, const torch::Tensor& model_output, const torch::Tensor& sample,
                   const torch::Tensor& alpha_prod_t) {
  torch::Tensor beta_prod_t = 1 - alpha_prod_t;
  if (type == "epsilon")
    return {(sample - beta_prod_t.pow(0.5) * model_output) / alpha_prod_t.pow(0.5), model_output};
  if (type == "sample")
    return {model_output, (sample - alpha_prod_t.pow(0.5) * model_output) / beta_prod_t.pow(0.5)};
  // v_prediction
  return {alpha_prod_t.pow(0.5) * sample - beta_prod_t.pow(0.5) * model_output,
          alpha_prod_t.pow(0.5) * model_output + beta_prod_t.pow(0.5) * sample};
}


torch::Tensor clip_or_threshold(const torch::Tensor& x0, const SchedulerConfig& c) {
  if (c.thresholding) return threshold_sample(x0, c);
  if (c.clip_sample) return x0.clamp(-c.clip_sample_range, c.clip_sample_range);
  return x0;
}

void check_timestep(int64_t t, const SchedulerConfig& c) {
  if (t < 0 || t >= c.num_train_timesteps)
    throw InputError("scheduler step: timestep " + std::to_string(t) + " outside [0, " +
                     std::to_string(c.num_train_timesteps) + ")");
}

void check_num_steps(int64_t n, const SchedulerConfig& c) {
  if (n < 1 || n > c.num_train_timesteps)
    throw InputError("set_timesteps: num_inference_steps " + std::to_string(n) + " outside [1, num_train_timesteps=" +
                     std::to_string(c.num_train_timesteps) + "]");
}

torch::Tensor draw_noise(const torch::Tensor& like, const std::optional<torch::Generator>& generator) {
  c10::optional<torch::Generator> g;
  if (generator) g = *generator;
  return torch::randn(like.sizes(), g, like.options());
}

torch::Tensor int64_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64); }

torch::Tensor descending_train_timesteps(int64_t n) { return torch::arange(n - 1, -1, -1, torch::kInt64); }

}  // namespace pbench::sched::detail
