#include "framework/sample/model_guidance.hpp"

#include "framework/util/errors.hpp"

namespace pbench::sample {

torch::Tensor model_guided_noise(const torch::Tensor& uncond, const torch::Tensor& edit, const torch::Tensor& tuned,
                                 const ModelGuidanceOptions& o, bool in_range) {
  const torch::Tensor cond = in_range ? o.beta * edit + (1.0 - o.beta) * tuned : edit;
  if (!uncond.defined()) return cond;  // w = 1: no unconditional branch
  return uncond + o.guidance * (cond - uncond);
}

torch::Tensor model_guided_sample(models::Pipeline& frozen, models::Pipeline& tuned, const torch::Tensor& z_t,
                                  const torch::Tensor& edit_context, const torch::Tensor& source_context,
                                  const torch::Tensor& uncond, const ModelGuidanceOptions& o,
                                  const StepCallback& on_step) {
  if (!(o.guidance >= 1)) throw InputError("model guidance: guidance: expected >= 1");
  if (!(o.beta >= 0 && o.beta <= 1)) throw InputError("model guidance: beta: expected a weight in [0, 1]");
  if (o.t_min > o.t_max) throw InputError("model guidance: t_min is above t_max");
  torch::NoGradGuard no_grad;
  const sched::DDIMScheduler scheduler = ddim_scheduler(frozen, o.num_steps);
  const std::vector<int64_t> timesteps = sampling_timesteps(scheduler);
  const int64_t n = int64_t(timesteps.size());
  const bool guided = o.guidance != 1.0;
  torch::Tensor latents = z_t;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t step = timesteps[size_t(i)];
    const torch::Tensor t = torch::tensor(step, torch::kInt64);
    // β = 1 weighs the fine-tuned prediction by 0: its pass is skipped (the edit's control).
    const bool in_range = o.t_min <= step && step <= o.t_max && o.beta < 1.0;
    torch::Tensor u, c;
    if (guided) {
      auto both = frozen.unet->forward(torch::cat({latents, latents}), t, models::cat_contexts({uncond, edit_context}))
                      .chunk(2);
      u = both[0];
      c = both[1];
    } else {
      c = frozen.unet->forward(latents, t, edit_context);
    }
    const torch::Tensor s = in_range ? tuned.unet->forward(latents, t, source_context) : torch::Tensor();
    latents = scheduler.step(model_guided_noise(u, c, s, o, in_range), step, latents).prev_sample;
    if (on_step) on_step(i + 1, n);
  }
  return latents;
}

}  // namespace pbench::sample
