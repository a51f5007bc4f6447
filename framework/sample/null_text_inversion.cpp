#include "framework/sample/null_text_inversion.hpp"

#include "framework/sample/ddim_inversion.hpp"
#include "framework/util/errors.hpp"

namespace pbench::sample {

namespace {

// Sets requires_grad false on every parameter of the pipeline for its lifetime, then
// restores each flag: the optimization must not build gradients for frozen weights.
class FrozenWeights {
 public:
  explicit FrozenWeights(models::Pipeline& pipeline) {
    for (auto& p : pipeline.unet->parameters()) remember(p);
    if (!pipeline.text_encoder.is_empty())
      for (auto& p : pipeline.text_encoder->parameters()) remember(p);
  }
  ~FrozenWeights() {
    for (auto& [p, flag] : saved_) p.requires_grad_(flag);
  }
  FrozenWeights(const FrozenWeights&) = delete;
  FrozenWeights& operator=(const FrozenWeights&) = delete;

 private:
  void remember(torch::Tensor& p) {
    saved_.emplace_back(p, p.requires_grad());
    p.requires_grad_(false);
  }
  std::vector<std::pair<torch::Tensor, bool>> saved_;
};

void check_options(const NullTextOptions& o) {
  auto bad = [](const std::string& key, const std::string& expected) {
    throw InputError("null-text inversion: " + key + ": expected " + expected);
  };
  if (o.num_steps < 1) bad("num_steps", ">= 1");
  if (o.inner_steps < 1) bad("inner_steps", ">= 1");
  if (!(o.lr > 0)) bad("lr", "> 0");
  if (!(o.guidance >= 1)) bad("guidance", ">= 1");
  if (!(o.early_stop >= 0) || !(o.early_stop_growth >= 0)) bad("early_stop", ">= 0");
}

}  // namespace

NullTextResult null_text_invert(models::Pipeline& pipeline, const torch::Tensor& z0, const torch::Tensor& cond,
                                const torch::Tensor& uncond, const NullTextOptions& options,
                                const NullTextCallback& on_step) {
  check_options(options);
  FrozenWeights frozen(pipeline);
  NullTextResult result;
  result.pivots = ddim_invert(pipeline, z0, cond, options.num_steps);  // guidance 1: the prompt alone
  const sched::DDIMScheduler scheduler = ddim_scheduler(pipeline, options.num_steps);
  const std::vector<int64_t> timesteps = sampling_timesteps(scheduler);
  const int64_t n = int64_t(timesteps.size());

  torch::Tensor latent = result.pivots.back();
  torch::Tensor null_embedding = uncond.detach().clone();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = timesteps[size_t(i)];
    const torch::Tensor timestep = torch::tensor(t, torch::kInt64);
    const torch::Tensor& target = result.pivots[size_t(n - 1 - i)];
    torch::Tensor eps_cond;
    {
      torch::NoGradGuard no_grad;
      eps_cond = pipeline.unet->forward(latent, timestep, cond);  // once per step: it does not depend on ∅
    }
    null_embedding = null_embedding.detach().requires_grad_(true);
    torch::optim::Adam adam({null_embedding}, torch::optim::AdamOptions(options.lr * (1.0 - double(i) / 100.0)));
    const double threshold = options.early_stop + double(i) * options.early_stop_growth;
    NullTextStep record;
    for (int64_t j = 0; j < options.inner_steps; ++j) {
      torch::Tensor eps_uncond = pipeline.unet->forward(latent, timestep, null_embedding);
      torch::Tensor eps = eps_uncond + options.guidance * (eps_cond - eps_uncond);
      torch::Tensor loss = torch::mse_loss(scheduler.step(eps, t, latent).prev_sample, target);
      adam.zero_grad();
      loss.backward();
      adam.step();
      record.inner_steps = j + 1;
      record.loss = loss.item<double>();
      if (record.loss < threshold) break;  // the official check, after the update
    }
    null_embedding = null_embedding.detach();
    result.null_embeddings.push_back(null_embedding.clone());
    result.steps.push_back(record);
    {
      torch::NoGradGuard no_grad;  // advance with the optimized ∅ at the editing guidance
      torch::Tensor eps = guided_prediction(pipeline, latent, t, cond, null_embedding, options.guidance);
      latent = scheduler.step(eps, t, latent).prev_sample;
    }
    if (on_step) on_step(i, record);
  }
  return result;
}

}  // namespace pbench::sample
