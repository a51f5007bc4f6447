#include "framework/models/schedulers/noise_schedule.hpp"

#include <cmath>

#include "framework/models/schedulers/step_math.hpp"

namespace pbench::sched {
namespace {

// diffusers' betas_for_alpha_bar with the cosine transform (float64 math,
// stored as float32).
torch::Tensor cosine_betas(int64_t n) {
  auto alpha_bar = [](double t) {
    double c = std::cos((t + 0.008) / 1.008 * M_PI / 2);
    return c * c;
  };
  std::vector<float> betas;
  for (int64_t i = 0; i < n; ++i) {
    double t1 = double(i) / double(n), t2 = double(i + 1) / double(n);
    betas.push_back(float(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999)));
  }
  return torch::tensor(betas, torch::kFloat32);
}

// diffusers' rescale_zero_terminal_snr (arXiv:2305.08891, Algorithm 1).
torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas) {
  torch::Tensor alphas_bar_sqrt = torch::cumprod(1.0 - betas, 0).sqrt();
  torch::Tensor first = alphas_bar_sqrt[0].clone();
  torch::Tensor last = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt = (alphas_bar_sqrt - last) * (first / (first - last));
  torch::Tensor alphas_bar = alphas_bar_sqrt.pow(2);
  torch::Tensor alphas = torch::cat({alphas_bar.slice(0, 0, 1), alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1)});
  return 1 - alphas;
}

// numpy's round(): half to even (nearbyint under the default rounding mode).
int64_t round_half_even(double x) { return int64_t(std::nearbyint(x)); }


// alphas_cumprod[t] gathered per sample and shaped to broadcast over `like`.
torch::Tensor per_sample(const torch::Tensor& values, const torch::Tensor& timesteps, const torch::Tensor& like) {
  torch::Tensor v = values.to(like.scalar_type()).index({timesteps.to(torch::kLong)}).flatten();
  while (v.dim() < like.dim()) v = v.unsqueeze(-1);
  return v;
}

}  // namespace

NoiseSchedule::NoiseSchedule(const SchedulerConfig& c) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  if (c.trained_betas)
    betas = torch::tensor(*c.trained_betas, torch::kFloat64).to(torch::kFloat32);
  else if (c.beta_schedule == "linear")
    betas = torch::linspace(c.beta_start, c.beta_end, c.num_train_timesteps, f32);
  else if (c.beta_schedule == "scaled_linear")
    // The reference squares a float32 linspace of the square roots.
    betas = torch::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end), c.num_train_timesteps, f32).pow(2);
  else
    betas = cosine_betas(c.num_train_timesteps);
  if (c.rescale_betas_zero_snr) betas = rescale_zero_terminal_snr(betas);
  alphas_cumprod = torch::cumprod(1.0 - betas, 0);
}

torch::Tensor NoiseSchedule::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                       const torch::Tensor& timesteps) const {
  torch::Tensor acp = per_sample(alphas_cumprod, timesteps, original);
  return acp.pow(0.5) * original + (1 - acp).pow(0.5) * noise;
}

torch::Tensor NoiseSchedule::get_velocity(const torch::Tensor& sample, const torch::Tensor& noise,
                                          const torch::Tensor& timesteps) const {
  torch::Tensor acp = per_sample(alphas_cumprod, timesteps, sample);
  return acp.pow(0.5) * noise - (1 - acp).pow(0.5) * sample;
}

std::vector<int64_t> inference_timesteps(const SchedulerConfig& c, int64_t n) {
  detail::check_num_steps(n, c);
  const int64_t T = c.num_train_timesteps;
  std::vector<int64_t> out;
  if (c.timestep_spacing == "linspace") {
    // np.linspace(0, T - 1, n).round()[::-1]
    const double step = n > 1 ? double(T - 1) / double(n - 1) : 0.0;
    for (int64_t i = n - 1; i >= 0; --i) out.push_back(round_half_even(i == n - 1 && n > 1 ? double(T - 1) : double(i) * step));
  } else if (c.timestep_spacing == "leading") {
    // (np.arange(n) * (T // n)).round()[::-1] + steps_offset
    const int64_t ratio = T / n;
    for (int64_t i = n - 1; i >= 0; --i) out.push_back(i * ratio + c.steps_offset);
  } else {
    // np.round(np.arange(T, 0, -T / n)) - 1: numpy sizes a float arange as
    // ceil((stop - start) / step) and fills start + i * delta with
    // delta = (start + step) - start, which is not always `step` in floating
    // point (n = 48 rounds differently with plain i * step).
    const double start = double(T), step = -double(T) / double(n);
    const double delta = (start + step) - start;
    const auto count = int64_t(std::ceil((0.0 - start) / step));
    for (int64_t i = 0; i < count; ++i) out.push_back(round_half_even(start + double(i) * delta) - 1);
  }
  return out;
}

}  // namespace pbench::sched
