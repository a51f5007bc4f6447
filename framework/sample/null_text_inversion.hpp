#pragma once
// NULL-text inversion (Mokady et al., arXiv 2211.09794), the official
// procedure as wave2-methods.md §14 records it: a pivotal DDIM inversion with
// the conditional prompt alone (guidance 1), then, for each of the N sampling
// steps, the unconditional ("null") embedding optimized so that the guided DDIM
// step from the current latent lands on the pivot, warm-started from the
// previous step's result. Reconstruction with the N optimized embeddings at the
// same guidance reproduces the image far better than plain DDIM inversion.
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "framework/models/sd/pipeline.hpp"

namespace pbench::sample {

struct NullTextOptions {
  int64_t num_steps = 50;       // DDIM steps of inversion, optimization and reconstruction
  double guidance = 7.5;        // classifier-free guidance of the optimization and of editing
  int64_t inner_steps = 10;     // Adam steps per sampling step, at most
  double lr = 1e-2;             // step i uses lr·(1 − i/100)
  double early_stop = 1e-5;     // step i stops once the loss < early_stop + i·early_stop_growth
  double early_stop_growth = 2e-5;
};

struct NullTextStep {
  int64_t inner_steps = 0;  // Adam steps taken (≤ inner_steps)
  double loss = 0;          // the MSE to the pivot after the last of them
};

struct NullTextResult {
  std::vector<torch::Tensor> pivots;           // z*_0 … z*_N, the guidance-1 DDIM inversion
  std::vector<torch::Tensor> null_embeddings;  // N optimized contexts [1, T, D], sampling order
  std::vector<NullTextStep> steps;             // N, sampling order
};

// Called after each sampling step's optimization (0-based step, its record).
using NullTextCallback = std::function<void(int64_t step, const NullTextStep&)>;

// z0: the image latent (image_latent); cond, uncond: contexts [1, T, D] of the prompt and of
// "" (the warm start of step 0). The pipeline's weights are not trained: they are frozen for
// the call (requires_grad restored after). Gradients flow to the null embedding only.
NullTextResult null_text_invert(models::Pipeline& pipeline, const torch::Tensor& z0, const torch::Tensor& cond,
                                const torch::Tensor& uncond, const NullTextOptions& options,
                                const NullTextCallback& on_step = {});

}  // namespace pbench::sample
