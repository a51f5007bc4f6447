#pragma once
// DDIM inversion of a real image into the model's noise, and DDIM denoising
// back from it (wave2-methods.md §14 step 3 and §17): the sampler-control seam
// the inversion and editing techniques build on (NULL-text inversion, and
// Prompt-to-Prompt / EDICT next), with the per-step state they need.
//
// The inverse step is diffusers v0.25.1's DDIMInverseScheduler built from the
// pipeline's scheduler config (framework/models/schedulers/ddim_inverse.hpp):
// from z_i it evaluates ε(z_i, t) at the *target* timestep t and moves from
// t − 1000/N to t, exactly the `next_step` of the NULL-text inversion code. The
// first step starts from ᾱ = 1 when the config's set_alpha_to_one is true, else
// from ᾱ_0 (SD v1.x and the built-in models: set_alpha_to_one false, so ᾱ_0 =
// 0.99915, as the NULL-text code) — the two reference implementations differ
// there (§17); the run file records which one ran (/inversion@first_alpha_cumprod).
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "framework/models/sd/pipeline.hpp"

namespace pbench::sample {

// z_0 of a real image: the VAE posterior's mean (never a sample: no noise is drawn)
// times the VAE's scaling factor. image: uint8 [H, W, 3] at the pipeline's resolution.
torch::Tensor image_latent(models::Pipeline& pipeline, const torch::Tensor& image_hwc_u8);

// uint8 [B, H, W, 3] of scaled latents [B, C, h, w] (what the UNet sees).
torch::Tensor decode_latents_u8(models::Pipeline& pipeline, const torch::Tensor& latents);

// The guided noise prediction ε̂ = ε(x, t, uncond) + w·(ε(x, t, cond) − ε(x, t, uncond)) for one
// latent [1, C, h, w] and contexts [1, T, D]; w == 1 runs the conditional pass alone.
torch::Tensor guided_prediction(models::Pipeline& pipeline, const torch::Tensor& latent, int64_t t,
                                const torch::Tensor& cond, const torch::Tensor& uncond, double guidance);

// The pipeline's DDIM scheduler set to N steps (what every loop here steps with).
sched::DDIMScheduler ddim_scheduler(const models::Pipeline& pipeline, int64_t num_steps);

// Its timesteps in sampling (descending) order: denoising step i runs at timesteps[i];
// inversion visits them reversed.
std::vector<int64_t> sampling_timesteps(const sched::DDIMScheduler& scheduler);

// Called after each step with (steps done, steps in all).
using StepCallback = std::function<void(int64_t done, int64_t total)>;

// DDIM inversion: the trajectory [z_0, z_1, …, z_N] (N + 1 latents [1, C, h, w]), z_0 the given
// latent and z_{i+1} its inverse DDIM step to the (i+1)-th smallest sampling timestep, with the
// conditional prompt alone (guidance 1, as NULL-text inversion does: guided inversion drifts).
// No gradients.
std::vector<torch::Tensor> ddim_invert(models::Pipeline& pipeline, const torch::Tensor& z0, const torch::Tensor& cond,
                                       int64_t num_steps, const StepCallback& on_step = {});

// DDIM denoising (eta 0) of z_N over the N sampling timesteps, step i guided with
// uncond_per_step[i] (NULL-text inversion's optimized embeddings) or, when it holds one
// context, that one at every step. Returns z_0. No gradients.
torch::Tensor ddim_denoise(models::Pipeline& pipeline, const torch::Tensor& z_n, const torch::Tensor& cond,
                           const std::vector<torch::Tensor>& uncond_per_step, double guidance, int64_t num_steps,
                           const StepCallback& on_step = {});

}  // namespace pbench::sample
