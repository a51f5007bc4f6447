#include "framework/sample/ddim_inversion.hpp"

#include "framework/sample/ddim_sampling.hpp"
#include "framework/util/errors.hpp"

namespace pbench::sample {

namespace {

void check_pipeline(const models::Pipeline& pipeline, const char* what) {
  if (pipeline.unet.is_empty() || pipeline.vae.is_empty())
    throw InputError(std::string(what) + ": pipeline '" + pipeline.source + "': expected a UNet and a VAE");
}

}  // namespace

torch::Tensor image_latent(models::Pipeline& pipeline, const torch::Tensor& image_hwc_u8) {
  check_pipeline(pipeline, "inversion");
  if (image_hwc_u8.dim() != 3 || image_hwc_u8.size(0) != pipeline.resolution ||
      image_hwc_u8.size(1) != pipeline.resolution)
    throw InputError("inversion: expected an image of the pipeline's resolution " +
                     std::to_string(pipeline.resolution) + "x" + std::to_string(pipeline.resolution) + ", got " +
                     c10::str(image_hwc_u8.sizes()));
  torch::NoGradGuard no_grad;
  torch::Tensor pixels = models::vae_preprocess_u8(image_hwc_u8).to(latent_options(pipeline));
  return pipeline.vae->encode(pixels).mean * pipeline.vae->scaling_factor();
}

torch::Tensor decode_latents_u8(models::Pipeline& pipeline, const torch::Tensor& latents) {
  torch::NoGradGuard no_grad;
  return models::vae_postprocess_u8(pipeline.vae->decode(latents / pipeline.vae->scaling_factor())).cpu();
}

torch::Tensor guided_prediction(models::Pipeline& pipeline, const torch::Tensor& latent, int64_t t,
                                const torch::Tensor& cond, const torch::Tensor& uncond, double guidance) {
  const torch::Tensor timestep = torch::tensor(t, torch::kInt64);
  if (guidance == 1.0) return pipeline.unet->forward(latent, timestep, cond);
  if (!uncond.defined()) throw std::invalid_argument("guided_prediction: guidance != 1 needs an unconditional context");
  // [uncond; cond] in one batch, the order diffusers concatenates in.
  auto both = pipeline.unet->forward(torch::cat({latent, latent}), timestep, models::cat_contexts({uncond, cond})).chunk(2);
  return guided_noise(both[0], both[1], guidance);
}

sched::DDIMScheduler ddim_scheduler(const models::Pipeline& pipeline, int64_t num_steps) {
  sched::DDIMScheduler scheduler(pipeline.scheduler);
  scheduler.set_timesteps(num_steps);
  return scheduler;
}

std::vector<int64_t> sampling_timesteps(const sched::DDIMScheduler& scheduler) {
  const torch::Tensor t = scheduler.timesteps().contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

std::vector<torch::Tensor> ddim_invert(models::Pipeline& pipeline, const torch::Tensor& z0, const torch::Tensor& cond,
                                       int64_t num_steps, const StepCallback& on_step) {
  check_pipeline(pipeline, "DDIM inversion");
  torch::NoGradGuard no_grad;
  sched::DDIMInverseScheduler inverse(pipeline.scheduler);
  inverse.set_timesteps(num_steps);
  const torch::Tensor ascending = inverse.timesteps();
  std::vector<torch::Tensor> trajectory{z0};
  torch::Tensor latent = z0;
  for (int64_t i = 0; i < ascending.size(0); ++i) {
    const int64_t t = ascending[i].item<int64_t>();
    latent = inverse.step(pipeline.unet->forward(latent, torch::tensor(t, torch::kInt64), cond), t, latent).prev_sample;
    trajectory.push_back(latent);
    if (on_step) on_step(i + 1, ascending.size(0));
  }
  return trajectory;
}

torch::Tensor ddim_denoise(models::Pipeline& pipeline, const torch::Tensor& z_n, const torch::Tensor& cond,
                           const std::vector<torch::Tensor>& uncond_per_step, double guidance, int64_t num_steps,
                           const StepCallback& on_step) {
  check_pipeline(pipeline, "DDIM denoising");
  const sched::DDIMScheduler scheduler = ddim_scheduler(pipeline, num_steps);
  const std::vector<int64_t> timesteps = sampling_timesteps(scheduler);
  if (uncond_per_step.size() != 1 && uncond_per_step.size() != timesteps.size())
    throw std::invalid_argument("ddim_denoise: expected 1 or " + std::to_string(timesteps.size()) +
                                " unconditional contexts, got " + std::to_string(uncond_per_step.size()));
  torch::NoGradGuard no_grad;
  torch::Tensor latent = z_n.to(latent_options(pipeline));
  for (size_t i = 0; i < timesteps.size(); ++i) {
    const torch::Tensor& uncond = uncond_per_step[uncond_per_step.size() == 1 ? 0 : i];
    torch::Tensor eps = guided_prediction(pipeline, latent, timesteps[i], cond, uncond, guidance);
    latent = scheduler.step(eps, timesteps[i], latent).prev_sample;
    if (on_step) on_step(int64_t(i) + 1, int64_t(timesteps.size()));
  }
  return latent;
}

}  // namespace pbench::sample
