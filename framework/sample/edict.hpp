#pragma once
// EDICT: Exact Diffusion Inversion via Coupled Transformations (Wallace, Gokul
// and Naik, arXiv 2211.12446), as salesforce/EDICT's edict_functions.py runs it
// (wave2-methods.md §15). Two coupled latents (x, y), both the image's latent at
// the start; one generative step from t to t_prev (a_t = √(ᾱ_prev/ᾱ_t),
// b_t = √(1−ᾱ_prev) − √(ᾱ_prev(1−ᾱ_t)/ᾱ_t), ε guided):
//   x_inter = a_t·x + b_t·ε(y, t);   y_inter = a_t·y + b_t·ε(x_inter, t)
//   x' = p·x_inter + (1−p)·y_inter;  y' = p·y_inter + (1−p)·x'   (the new x')
// With leapfrog (the official default) odd steps update y first, then x. Each
// step is invertible in closed form, so inversion followed by generation returns
// the input up to floating-point error: float64 reaches the float64 floor.
// Each step costs 4 UNet evaluations at guidance > 1 (2× DDIM).
#include <torch/torch.h>

#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_inversion.hpp"

namespace pbench::sample {

struct EdictOptions {
  int64_t num_steps = 50;
  double guidance = 3.0;   // the official editing default (recon_test uses 7)
  double mix = 0.93;       // p, the mixing weight
  bool leapfrog = true;    // alternate which sequence is updated first
};

struct EdictPair {
  torch::Tensor x, y;  // [1, C, h, w] each
};

// Inversion: from (z0, z0) up to the largest sampling timestep, the exact reverse of
// edict_generate. No gradients.
EdictPair edict_invert(models::Pipeline& pipeline, const torch::Tensor& z0, const torch::Tensor& cond,
                       const torch::Tensor& uncond, const EdictOptions& options, const StepCallback& on_step = {});

// Generation: the N generative steps from `start` (an inverted pair, or noise twice); the
// image's latent is the result's x (the official code decodes the first latent). No gradients.
EdictPair edict_generate(models::Pipeline& pipeline, const EdictPair& start, const torch::Tensor& cond,
                         const torch::Tensor& uncond, const EdictOptions& options, const StepCallback& on_step = {});

}  // namespace pbench::sample
