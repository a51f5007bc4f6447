#include "framework/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <ostream>

#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench {

torch::Tensor images_u8(const std::vector<Image>& images) {
  std::vector<torch::Tensor> out;
  for (const Image& img : images)
    out.push_back(torch::from_blob(const_cast<uint8_t*>(img.rgb.data()), {img.height, img.width, 3}, torch::kUInt8).clone());
  return torch::stack(out);
}

void clear_gradients(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params) p.mutable_grad() = torch::Tensor();
}

torch::Tensor images_to_tensor(const std::vector<Image>& images) {
  return images_u8(images).permute({0, 3, 1, 2}).to(torch::kFloat32).div(127.5).sub(1.0);
}

namespace {
torch::Generator make_generator(int64_t seed, const char* purpose) {
  return at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, purpose));
}
}  // namespace

Trainer::Trainer(models::Pipeline& pipeline, Method& method, const SubjectData& subject, TrainOptions train,
                 DvarOptions dvar, int64_t seed)
    : pipeline_(pipeline), method_(method), subject_(subject), train_(train), dvar_(dvar), seed_(seed),
      schedule_(pipeline.scheduler) {
  if (subject.images.empty()) throw InputError("dataset: subject '" + subject.subject + "' has no images");
  train_.schedule.total_steps = train_.steps;  // the schedule spans the budget
  prompts_ = method_.train_prompts(subject_);
  if (prompts_.empty()) throw std::logic_error("method returned no training prompts");
  torch::NoGradGuard no_grad;
  pipeline_.vae->eval();
  torch::Tensor pixels = images_to_tensor(subject_.images);
  auto dist = pipeline_.vae->encode(pixels);
  latent_mean_ = dist.mean;
  latent_std_ = dist.std;
  if (train_.flip) {
    auto flipped = pipeline_.vae->encode(pixels.flip({3}));
    latent_mean_flipped_ = flipped.mean;
    latent_std_flipped_ = flipped.std;
  }
  if (!text_encoder_trains()) cached_context_ = encode_prompts(prompts_);

  // DVAR's frozen batch: drawn once from its own stream, never disturbing training.
  if (dvar_.mode != StopMode::off) {
    torch::Generator gen = make_generator(seed_, "dvar.batch");
    const int64_t b = dvar_.eval_batch_size, n = int64_t(subject_.images.size());
    std::vector<int64_t> index;
    for (int64_t i = 0; i < b; ++i) {
      index.push_back(i % n);
      eval_prompts_.push_back(prompts_[size_t(i) % prompts_.size()]);
    }
    auto idx = torch::tensor(index);
    auto mean = latent_mean_.index_select(0, idx), std = latent_std_.index_select(0, idx);
    eval_latents_ = (mean + std * torch::randn(mean.sizes(), gen)) * pipeline_.vae->scaling_factor();
    eval_noise_ = torch::randn(eval_latents_.sizes(), gen);
    const int64_t num_t = pipeline_.scheduler.num_train_timesteps;
    if (b > num_t) throw InputError("dvar.eval_batch_size: at most num_train_timesteps (" + std::to_string(num_t) + ")");
    eval_timesteps_ = torch::randperm(num_t, gen, torch::kInt64).slice(0, 0, b);
    if (!text_encoder_trains()) eval_context_ = encode_prompts(eval_prompts_);
  }
}

void Trainer::set_prior(const std::vector<Image>& class_images, const std::string& class_prompt, double weight) {
  if (class_images.empty()) throw std::logic_error("prior preservation needs class images");
  torch::NoGradGuard no_grad;
  auto dist = pipeline_.vae->encode(images_to_tensor(class_images));
  prior_mean_ = dist.mean;
  prior_std_ = dist.std;
  prior_weight_ = weight;
  prior_prompt_ = class_prompt;
  if (!text_encoder_trains()) prior_context_ = encode_prompts({class_prompt});
}

bool Trainer::text_encoder_trains() const {
  for (const auto& p : pipeline_.text_encoder->parameters())
    if (p.requires_grad()) return true;
  return false;
}

torch::Tensor Trainer::encode_prompts(const std::vector<std::string>& prompts) {
  return models::encode_prompts(pipeline_, prompts);
}

torch::Tensor Trainer::denoising_loss(const torch::Tensor& latents, const torch::Tensor& noise,
                                      const torch::Tensor& timesteps, const torch::Tensor& context) {
  torch::Tensor noisy = schedule_.add_noise(latents, noise, timesteps);
  torch::Tensor pred = pipeline_.unet->forward(noisy, timesteps, context);
  const std::string& type = pipeline_.scheduler.prediction_type;
  torch::Tensor target = type == "v_prediction" ? schedule_.get_velocity(latents, noise, timesteps)
                         : type == "sample"     ? latents
                                                : noise;
  return torch::mse_loss(pred, target);
}

double Trainer::deterministic_objective() {
  torch::NoGradGuard no_grad;
  torch::Tensor context = eval_context_.defined() ? eval_context_ : encode_prompts(eval_prompts_);
  return denoising_loss(eval_latents_, eval_noise_, eval_timesteps_, context).item<double>();
}

TrainResult Trainer::run(const TrainCallbacks& cb) {
  auto start = std::chrono::steady_clock::now();
  std::vector<ParamGroup> groups = method_.parameter_groups(train_.lr);
  std::vector<torch::optim::OptimizerParamGroup> optim_groups;
  std::vector<double> base_lrs;
  std::vector<torch::Tensor> all_params;
  for (const auto& g : groups) {
    if (g.params.empty()) continue;
    auto options = std::make_unique<torch::optim::AdamWOptions>(g.lr);
    options->weight_decay(g.weight_decay.value_or(train_.weight_decay)).betas({train_.adam_beta1, train_.adam_beta2}).eps(train_.adam_eps);
    optim_groups.emplace_back(g.params, std::move(options));
    base_lrs.push_back(g.lr);
    all_params.insert(all_params.end(), g.params.begin(), g.params.end());
  }
  if (all_params.empty()) throw std::logic_error("method '" + method_.describe() + "' has no trainable parameters");
  torch::optim::AdamW optimizer(optim_groups, torch::optim::AdamWOptions(train_.lr));

  torch::Generator gen = make_generator(seed_, "train");
  DvarRule rule(dvar_);
  TrainResult result;
  const int64_t n = int64_t(subject_.images.size());
  const int64_t num_t = pipeline_.scheduler.num_train_timesteps;
  const double scale = pipeline_.vae->scaling_factor();
  pipeline_.unet->train();
  pipeline_.text_encoder->train();

  for (int64_t step = 1; step <= train_.steps; ++step) {
    // DVAR's objective of the weights this step starts from (dvar.hpp: the
    // reference's order), before the method's per-step state (DyLoRA's rank).
    bool dvar_fired = false;
    double ratio = 1.0;
    if (dvar_.mode != StopMode::off && (step - 1) % dvar_.every == 0) {
      double objective = deterministic_objective();
      ratio = rule.add(objective);
      if (cb.on_dvar) cb.on_dvar(step, float(objective), float(ratio));
      dvar_fired = rule.triggered() && result.dvar_stop_step < 0;
      if (dvar_fired) result.dvar_stop_step = step;
    }
    double factor = train_.schedule.factor(step);
    for (size_t i = 0; i < optimizer.param_groups().size(); ++i)
      static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[i].options()).lr(base_lrs[i] * factor);
    method_.before_step(step, gen);
    clear_gradients(all_params);
    double step_loss = 0.0;
    for (int64_t micro = 0; micro < train_.grad_accum; ++micro) {
      torch::Tensor idx = torch::randint(n, {train_.batch_size}, gen, torch::kInt64);
      torch::Tensor mean = latent_mean_.index_select(0, idx), std = latent_std_.index_select(0, idx);
      if (train_.flip) {
        torch::Tensor flip = torch::rand({train_.batch_size}, gen) < 0.5;
        auto m = flip.view({-1, 1, 1, 1});
        mean = torch::where(m, latent_mean_flipped_.index_select(0, idx), mean);
        std = torch::where(m, latent_std_flipped_.index_select(0, idx), std);
      }
      torch::Tensor latents = (mean + std * torch::randn(mean.sizes(), gen)) * scale;
      torch::Tensor noise = torch::randn(latents.sizes(), gen);
      torch::Tensor timesteps = torch::randint(num_t, {train_.batch_size}, gen, torch::kInt64);
      torch::Tensor prompt_idx = torch::randint(int64_t(prompts_.size()), {train_.batch_size}, gen, torch::kInt64);
      torch::Tensor context;
      if (cached_context_.defined()) {
        context = models::select_context_rows(cached_context_, prompt_idx);
      } else {
        std::vector<std::string> batch_prompts;
        for (int64_t i = 0; i < train_.batch_size; ++i) batch_prompts.push_back(prompts_[size_t(prompt_idx[i].item<int64_t>())]);
        context = encode_prompts(batch_prompts);
      }
      torch::Tensor loss = denoising_loss(latents, noise, timesteps, context);
      if (prior_weight_ > 0.0) {
        torch::Tensor pidx = torch::randint(prior_mean_.size(0), {train_.batch_size}, gen, torch::kInt64);
        torch::Tensor plat = (prior_mean_.index_select(0, pidx) +
                              prior_std_.index_select(0, pidx) * torch::randn(prior_mean_.index_select(0, pidx).sizes(), gen)) *
                             scale;
        torch::Tensor pnoise = torch::randn(plat.sizes(), gen);
        torch::Tensor pt = torch::randint(num_t, {train_.batch_size}, gen, torch::kInt64);
        torch::Tensor pctx = models::expand_context_batch(
            prior_context_.defined() ? prior_context_ : encode_prompts({prior_prompt_}), train_.batch_size);
        loss = loss + prior_weight_ * denoising_loss(plat, pnoise, pt, pctx);
      }
      torch::Tensor extra = method_.extra_loss();
      if (extra.defined()) loss = loss + extra;
      double value = loss.item<double>();
      if (!std::isfinite(value))
        throw RunFailure("training loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") + " at step " +
                         std::to_string(step) + " (lower train.lr or check the method's settings)");
      step_loss += value / double(train_.grad_accum);
      (loss / double(train_.grad_accum)).backward();
    }
    if (train_.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(all_params, train_.max_grad_norm);
    optimizer.step();
    method_.after_step(step);
    result.steps_trained = step;
    result.last_loss = step_loss;
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    float lr_now = float(base_lrs[0] * factor);
    if (cb.on_step) cb.on_step(step, float(step_loss), lr_now, wall);

    // The step that fired has taken its update (as the reference's): the stop delta is after it.
    if (dvar_fired) {
      for (const auto& [k, v] : method_.delta()) result.delta_at_dvar_stop[k] = v.detach().clone();
      if (cb.log) *cb.log << "[train] DVAR stop rule fired at step " << step << " (ratio " << ratio << ")\n";
    }
    bool stop_now = dvar_fired && dvar_.mode == StopMode::stop;
    if (cb.after_update && cb.after_update(step)) stop_now = true;
    if (cb.log && (step % train_.log_every == 0 || step == 1 || step == train_.steps)) {
      *cb.log << "[train] step " << step << "/" << train_.steps << " loss " << std::setprecision(5) << step_loss
              << " lr " << lr_now << " (" << std::fixed << std::setprecision(2) << double(step) / std::max(wall, 1e-9)
              << " steps/s)" << std::defaultfloat << "\n";
    }
    if (stop_now) break;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pipeline_.unet->eval();
  pipeline_.text_encoder->eval();
  return result;
}

}  // namespace pbench
