#include "framework/sample/edict.hpp"

#include <cmath>

#include "framework/util/errors.hpp"

namespace pbench::sample {

namespace {

// a_t and b_t of the generative step at timestep t (to t − 1000/N; ᾱ of a negative
// timestep is the scheduler's final ᾱ, as in DDIM).
struct StepCoefficients {
  double a = 1, b = 0;
};

StepCoefficients coefficients(const sched::DDIMScheduler& scheduler, int64_t t, int64_t num_steps) {
  const int64_t prev = t - scheduler.config().num_train_timesteps / num_steps;
  const double alpha_t = scheduler.schedule().alphas_cumprod[t].item<double>();
  const double alpha_prev = prev >= 0 ? scheduler.schedule().alphas_cumprod[prev].item<double>()
                                      : scheduler.final_alpha_cumprod().item<double>();
  StepCoefficients c;
  c.a = std::sqrt(alpha_prev / alpha_t);
  c.b = std::sqrt(1.0 - alpha_prev) - c.a * std::sqrt(1.0 - alpha_t);
  return c;
}

void check_options(const EdictOptions& o) {
  if (o.num_steps < 1) throw InputError("EDICT: num_steps: expected >= 1");
  if (!(o.mix > 0.0 && o.mix <= 1.0)) throw InputError("EDICT: mix: expected a number in (0, 1]");
  if (!(o.guidance >= 1.0)) throw InputError("EDICT: guidance: expected >= 1");
}

// Which of the pair generative step i updates first: x (0) or, on odd steps with leapfrog, y (1).
int first_updated(int64_t i, bool leapfrog) { return leapfrog ? int(i % 2) : 0; }

}  // namespace

EdictPair edict_generate(models::Pipeline& pipeline, const EdictPair& start, const torch::Tensor& cond,
                         const torch::Tensor& uncond, const EdictOptions& options, const StepCallback& on_step) {
  check_options(options);
  torch::NoGradGuard no_grad;
  const sched::DDIMScheduler scheduler = ddim_scheduler(pipeline, options.num_steps);
  const std::vector<int64_t> timesteps = sampling_timesteps(scheduler);
  torch::Tensor pair[2] = {start.x, start.y};
  const double p = options.mix;
  for (size_t i = 0; i < timesteps.size(); ++i) {
    const int64_t t = timesteps[i];
    const StepCoefficients c = coefficients(scheduler, t, options.num_steps);
    const int first = first_updated(int64_t(i), options.leapfrog);
    for (int k : {first, 1 - first}) {  // each sequence steps with the noise predicted from the other
      torch::Tensor eps = guided_prediction(pipeline, pair[1 - k], t, cond, uncond, options.guidance);
      pair[k] = c.a * pair[k] + c.b * eps;
    }
    pair[0] = p * pair[0] + (1 - p) * pair[1];  // mixing: x first, then y with the new x
    pair[1] = p * pair[1] + (1 - p) * pair[0];
    if (on_step) on_step(int64_t(i) + 1, int64_t(timesteps.size()));
  }
  return {pair[0], pair[1]};
}

EdictPair edict_invert(models::Pipeline& pipeline, const torch::Tensor& z0, const torch::Tensor& cond,
                       const torch::Tensor& uncond, const EdictOptions& options, const StepCallback& on_step) {
  check_options(options);
  torch::NoGradGuard no_grad;
  const sched::DDIMScheduler scheduler = ddim_scheduler(pipeline, options.num_steps);
  const std::vector<int64_t> timesteps = sampling_timesteps(scheduler);
  torch::Tensor pair[2] = {z0, z0.clone()};
  const double p = options.mix;
  const int64_t n = int64_t(timesteps.size());
  for (int64_t j = 0; j < n; ++j) {
    const int64_t i = n - 1 - j;  // the generative step this undoes
    const int64_t t = timesteps[size_t(i)];
    const StepCoefficients c = coefficients(scheduler, t, options.num_steps);
    pair[1] = (pair[1] - (1 - p) * pair[0]) / p;  // un-mix: y first (it was mixed last), then x
    pair[0] = (pair[0] - (1 - p) * pair[1]) / p;
    const int first = first_updated(i, options.leapfrog);
    for (int k : {1 - first, first}) {  // undo the updates in reverse order
      torch::Tensor eps = guided_prediction(pipeline, pair[1 - k], t, cond, uncond, options.guidance);
      pair[k] = (pair[k] - c.b * eps) / c.a;
    }
    if (on_step) on_step(j + 1, n);
  }
  return {pair[0], pair[1]};
}

}  // namespace pbench::sample
