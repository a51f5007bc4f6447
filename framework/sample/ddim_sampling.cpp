#include "framework/sample/ddim_sampling.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>

#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::sample {

int64_t image_seed(int64_t run_seed, int64_t prompt_index, int64_t image_index) {
  uint64_t s = derive_seed(run_seed, "sample/" + std::to_string(prompt_index) + "/" + std::to_string(image_index));
  // 63 bits: stored as a non-negative int64 in the run file and read back unchanged by h5py / torch.
  return static_cast<int64_t>(s & 0x7fffffffffffffffULL);
}

std::vector<ImageJob> grid_jobs(const std::vector<std::string>& prompts, int64_t images_per_prompt) {
  if (images_per_prompt < 1)
    throw InputError("sampling: images_per_prompt: expected >= 1, got " + std::to_string(images_per_prompt));
  std::vector<ImageJob> jobs;
  for (size_t p = 0; p < prompts.size(); ++p)
    for (int64_t i = 0; i < images_per_prompt; ++i) jobs.push_back(ImageJob{prompts[p], int64_t(p), i});
  return jobs;
}

PromptEncoder default_prompt_encoder(models::Pipeline& pipeline) {
  if (!pipeline.tokenizer || pipeline.text_encoder.is_empty())
    throw InputError("sampling: pipeline '" + pipeline.source + "': expected a tokenizer and a text encoder");
  return [pipeline](const std::string& prompt) {
    torch::NoGradGuard no_grad;
    // Stable Diffusion v1 conditions on the whole padded sequence without an
    // attention mask (its text encoder config has no use_attention_mask).
    return models::encode_prompts(pipeline, {prompt});
  };
}

torch::Tensor guided_noise(const torch::Tensor& uncond, const torch::Tensor& cond, double scale) {
  return uncond + scale * (cond - uncond);
}

int64_t latent_side(const models::Pipeline& pipeline) {
  if (pipeline.vae.is_empty()) throw InputError("sampling: pipeline '" + pipeline.source + "': expected a VAE");
  int64_t factor = int64_t(1) << (pipeline.vae->config().block_out_channels.size() - 1);
  if (pipeline.resolution <= 0 || pipeline.resolution % factor != 0)
    throw InputError("sampling: pipeline '" + pipeline.source + "': resolution " + std::to_string(pipeline.resolution) +
                     " is not a positive multiple of the VAE scale factor " + std::to_string(factor));
  return pipeline.resolution / factor;
}

namespace {

void check_options(const SamplingOptions& o) {
  auto bad = [](const std::string& key, const std::string& expected, double got) {
    throw InputError("sampling: " + key + ": expected " + expected + ", got " + std::to_string(got));
  };
  if (o.num_inference_steps < 1) bad("num_inference_steps", ">= 1", double(o.num_inference_steps));
  if (o.batch_size < 1) bad("batch_size", ">= 1", double(o.batch_size));
  if (!(o.eta >= 0.0)) bad("eta", ">= 0", o.eta);
  if (!(o.guidance_scale >= 1.0)) bad("guidance_scale", ">= 1 (1 = no guidance)", o.guidance_scale);
}

// One image's random stream: its initial latent first, then the eta noise of
// each step, drawn image by image so a batch draws exactly what lone images do.
struct ImageStream {
  torch::Generator generator;
  torch::Tensor draw(at::IntArrayRef shape, const torch::TensorOptions& options) {
    return torch::randn(shape, generator, options);
  }
};

torch::Tensor draw_batch(std::vector<ImageStream>& streams, at::IntArrayRef shape, const torch::TensorOptions& options) {
  std::vector<torch::Tensor> parts;
  for (auto& s : streams) parts.push_back(s.draw(shape, options));
  return torch::cat(parts);
}

// The shape of one image's latent.
std::vector<int64_t> latent_shape_of(const models::Pipeline& pipeline) {
  const int64_t side = latent_side(pipeline);
  return {1, pipeline.unet->config().in_channels, side, side};
}

ImageStream image_stream(int64_t seed) { return ImageStream{at::make_generator<at::CPUGeneratorImpl>(uint64_t(seed))}; }

}  // namespace

torch::TensorOptions latent_options(const models::Pipeline& pipeline) {
  const auto param = pipeline.unet->parameters().front();
  return torch::TensorOptions().dtype(param.dtype()).device(param.device());
}

torch::Tensor initial_latent(const models::Pipeline& pipeline, int64_t seed) {
  if (pipeline.unet.is_empty()) throw InputError("sampling: pipeline '" + pipeline.source + "': expected a UNet");
  return image_stream(seed).draw(latent_shape_of(pipeline), latent_options(pipeline));
}

SampleSet sample_images(models::Pipeline& pipeline, const std::vector<ImageJob>& jobs, int64_t run_seed,
                        const SamplingOptions& options, const PromptEncoder& encode_arg,
                        const PromptEncoder& encode_negative_arg, const ProgressCallback& progress) {
  check_options(options);
  if (pipeline.unet.is_empty()) throw InputError("sampling: pipeline '" + pipeline.source + "': expected a UNet");
  const PromptEncoder encode = encode_arg ? encode_arg : default_prompt_encoder(pipeline);
  const PromptEncoder encode_negative = encode_negative_arg ? encode_negative_arg : encode;
  const bool guided = options.guidance_scale != 1.0;

  torch::NoGradGuard no_grad;
  const auto options_f = latent_options(pipeline);
  const std::vector<int64_t> latent_shape = latent_shape_of(pipeline);

  // Every distinct prompt is encoded once, alone (see PromptEncoder).
  std::map<std::string, torch::Tensor> contexts;
  auto context_of = [&](const std::string& prompt) -> const torch::Tensor& {
    auto it = contexts.find(prompt);
    if (it == contexts.end()) it = contexts.emplace(prompt, encode(prompt).to(options_f)).first;
    return it->second;
  };
  // The unconditional context is encoded apart: a prompt equal to the negative
  // one must not share its cache entry when the two encoders differ.
  torch::Tensor uncond = guided ? encode_negative(options.negative_prompt).to(options_f) : torch::Tensor();

  sched::DDIMScheduler scheduler(pipeline.scheduler);
  scheduler.set_timesteps(options.num_inference_steps);
  const torch::Tensor timesteps = scheduler.timesteps();
  const int64_t num_steps = timesteps.size(0);

  SampleSet out;
  std::vector<torch::Tensor> images;
  const int64_t total = int64_t(jobs.size());
  const int64_t num_batches = (total + options.batch_size - 1) / options.batch_size;
  for (int64_t b = 0; b < num_batches; ++b) {
    const int64_t begin = b * options.batch_size, end = std::min(total, begin + options.batch_size);
    std::vector<ImageStream> streams;
    std::vector<torch::Tensor> conds;
    for (int64_t j = begin; j < end; ++j) {
      const ImageJob& job = jobs[size_t(j)];
      int64_t seed = image_seed(run_seed, job.prompt_index, job.image_index);
      streams.push_back(image_stream(seed));
      conds.push_back(context_of(job.prompt));
      out.prompts.push_back(job.prompt);
      out.seeds.push_back(seed);
    }
    const int64_t n = end - begin;
    torch::Tensor cond = models::cat_contexts(conds);
    // [uncond; cond], the order diffusers concatenates in.
    torch::Tensor context = guided ? models::cat_contexts({models::expand_context_batch(uncond, n), cond}) : cond;
    // DDIM's init_noise_sigma is 1: the initial latents are the draw itself.
    torch::Tensor latents = draw_batch(streams, latent_shape, options_f);
    for (int64_t i = 0; i < num_steps; ++i) {
      const torch::Tensor t = timesteps[i];
      torch::Tensor eps;
      if (guided) {
        auto both = pipeline.unet->forward(torch::cat({latents, latents}), t, context).chunk(2);
        eps = guided_noise(both[0], both[1], options.guidance_scale);
      } else {
        eps = pipeline.unet->forward(latents, t, context);
      }
      std::optional<torch::Tensor> variance_noise;
      if (options.eta > 0.0) variance_noise = draw_batch(streams, latent_shape, options_f);
      latents = scheduler.step(eps, t.item<int64_t>(), latents, options.eta, false, variance_noise).prev_sample;
      if (progress) progress(SamplingProgress{b, num_batches, i + 1, num_steps, i + 1 == num_steps ? end : begin, total});
    }
    torch::Tensor decoded = pipeline.vae->decode(latents / pipeline.vae->scaling_factor());
    images.push_back(models::vae_postprocess_u8(decoded).cpu());
  }
  const int64_t res = pipeline.resolution;
  out.images = images.empty() ? torch::empty({0, res, res, 3}, torch::kUInt8) : torch::cat(images);
  return out;
}

}  // namespace pbench::sample
