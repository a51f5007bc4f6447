#pragma once
// DDIM sampling with classifier-free guidance on a Stable Diffusion pipeline,
// as diffusers' StableDiffusionPipeline does it (latents ~ N(0, 1) scaled by
// init_noise_sigma = 1, UNet on [uncond; cond], eps = u + s * (c - u),
// DDIMScheduler.step, VAE decode of latents / scaling_factor, uint8 RGB).
//
// Reproducibility contract: every image has its own seed, derived from the
// run seed and its place in the (prompt, image) grid, and its own random
// stream (initial latents, then eta noise), and every prompt is encoded
// alone, so nothing random or textual depends on the batch. Regenerating an
// image alone from /samples/<point>/seeds with the same batch_size is exact.
// Across batch sizes: bit-identical on the tiny test pipeline
// (tests/nn/test_ddim_sampling.cpp), but on builtin:tiny LibTorch's UNet/VAE
// forwards differ by ~1e-6 between batch sizes, which can move a pixel by a
// few uint8 levels (OPEN: find the kernel; batch_size 1 is exact everywhere).
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framework/models/sd/pipeline.hpp"

namespace pbench::sample {

struct SamplingOptions {
  int64_t num_inference_steps = 50;
  // >= 1. Exactly 1 runs the conditional prediction alone, without the
  // unconditional pass (diffusers: guidance only when scale > 1); below 1 is
  // refused because the reference would silently ignore it.
  double guidance_scale = 7.5;
  double eta = 0.0;
  int64_t batch_size = 4;            // images denoised together; results never depend on it
  std::string negative_prompt;       // the unconditional prompt ("" as in the reference)
};

// One image to generate: its prompt and its place in the (prompt, image) grid,
// which fixes its seed.
struct ImageJob {
  std::string prompt;
  int64_t prompt_index = 0;
  int64_t image_index = 0;
};

// Prompt -> UNet context [1, T, cross_attention_dim]. Methods that rewrite
// prompts or token embeddings (Textual Inversion, P+) pass their own. Called
// once per distinct prompt, always with one prompt, so an embedding never
// depends on which other prompts share a call. The unconditional branch has
// its own encoder (see sample_images): a method's rewrite of the prompts must
// not reach it (framework/train/guidance_prompts.hpp).
using PromptEncoder = std::function<torch::Tensor(const std::string& prompt)>;

struct SamplingProgress {
  int64_t batch = 0, num_batches = 0;  // 0-based batch being denoised
  int64_t step = 0, num_steps = 0;     // steps done in this batch (1..num_steps)
  int64_t images_done = 0, images_total = 0;
};
using ProgressCallback = std::function<void(const SamplingProgress&)>;

struct SampleSet {
  torch::Tensor images;              // uint8 [N, H, W, 3] RGB, in job order
  std::vector<std::string> prompts;  // [N] the prompts as given (before any encoder rewrite)
  std::vector<int64_t> seeds;        // [N] per-image seeds (non-negative)
};

// derive_seed(run_seed, "sample/<prompt index>/<image index>") masked to 63
// bits, so it is stored as a non-negative int64 and seeds a torch generator.
int64_t image_seed(int64_t run_seed, int64_t prompt_index, int64_t image_index);

// The UNet's parameter dtype and device: what latents and contexts are moved to.
torch::TensorOptions latent_options(const models::Pipeline& pipeline);

// The initial latent [1, C, side, side] of an image of this seed: the first draw of its own
// random stream, exactly as sample_images draws it (editing a generated image starts here).
torch::Tensor initial_latent(const models::Pipeline& pipeline, int64_t seed);

// Prompt-major grid: prompt 0 images 0..n-1, prompt 1 images 0..n-1, ...
std::vector<ImageJob> grid_jobs(const std::vector<std::string>& prompts, int64_t images_per_prompt);

// The pipeline's tokenizer (padded to max_length, as SD) and text encoder's
// last_hidden_state. InputError if the pipeline lacks either.
PromptEncoder default_prompt_encoder(models::Pipeline& pipeline);

// Classifier-free guidance: uncond + scale * (cond - uncond).
torch::Tensor guided_noise(const torch::Tensor& uncond, const torch::Tensor& cond, double scale);

// Latent side = resolution / 2^(VAE down blocks - 1); InputError when the
// pipeline's resolution does not fit its VAE.
int64_t latent_side(const models::Pipeline& pipeline);

// Generates every job's image. `encode` (the jobs' prompts) defaults to
// default_prompt_encoder; `encode_negative` (options.negative_prompt, the
// unconditional branch) defaults to `encode`.
// InputError for bad options (steps < 1, batch_size < 1, eta < 0, guidance_scale < 1).
SampleSet sample_images(models::Pipeline& pipeline, const std::vector<ImageJob>& jobs, int64_t run_seed,
                        const SamplingOptions& options = {}, const PromptEncoder& encode = {},
                        const PromptEncoder& encode_negative = {}, const ProgressCallback& progress = {});

}  // namespace pbench::sample
