#include "framework/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <ostream>

#include "framework/train/active_training_set.hpp"
#include "framework/train/candidate_search.hpp"
#include "framework/train/random_scale.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench {

torch::Tensor images_u8(const std::vector<Image>& images) {
  std::vector<torch::Tensor> out;
  for (const Image& img : images)
    out.push_back(torch::from_blob(const_cast<uint8_t*>(img.rgb.data()), {img.height, img.width, 3}, torch::kUInt8).clone());
  return torch::stack(out);
}

std::vector<uint8_t> bytes_of(const torch::Tensor& u8) {
  torch::Tensor c = u8.contiguous();
  return std::vector<uint8_t>(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
}

Image image_at(const torch::Tensor& u8, int64_t i) {
  Image img;
  img.height = int(u8.size(1));
  img.width = int(u8.size(2));
  img.rgb = bytes_of(u8[i]);
  return img;
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

// The soft object masks of the subject's images `rows`, area-averaged onto the latent grid
// (`side` cells a side) and divided by each mask's maximum: [N, 1, side, side].
torch::Tensor object_mask_weights(const SubjectData& subject, const std::vector<int64_t>& rows, int64_t side) {
  if (subject.object_coverage.size() != subject.images.size())
    throw InputError("dataset '" + subject.dataset + "', subject '" + subject.subject +
                     "': the method weights its loss by object masks, and this dataset has none (the mini_world "
                     "dataset has them; or turn the method's mask off)");
  std::vector<torch::Tensor> masks;
  for (int64_t r : rows) {
    const Image& image = subject.images[size_t(r)];
    const std::vector<float>& m = subject.object_coverage[size_t(r)];
    if (int64_t(m.size()) != int64_t(image.height) * image.width)
      throw std::logic_error("object_coverage of image " + std::to_string(r) + " does not match its size");
    masks.push_back(torch::from_blob(const_cast<float*>(m.data()), {1, image.height, image.width}, torch::kFloat32).clone());
  }
  torch::Tensor cells = torch::adaptive_avg_pool2d(torch::stack(masks), {side, side});
  return cells / cells.amax({1, 2, 3}, /*keepdim=*/true).clamp_min(1e-6);
}

// A draw from the VAE's posterior N(mean, std^2), scaled as the UNet takes latents.
torch::Tensor sample_latents(const torch::Tensor& mean, const torch::Tensor& std, double scaling, torch::Generator& gen) {
  return (mean + std * torch::randn(mean.sizes(), gen)) * scaling;
}
}  // namespace

Trainer::Trainer(models::Pipeline& pipeline, Method& method, const SubjectData& subject, TrainOptions train,
                 DvarOptions dvar, int64_t seed)
    : pipeline_(pipeline), method_(method), subject_(subject), train_(train), dvar_(dvar), seed_(seed),
      schedule_(pipeline.scheduler), search_(dynamic_cast<CandidateSearch*>(&method)),
      active_(dynamic_cast<ActiveTrainingSet*>(&method)) {
  if (subject.images.empty()) throw InputError("dataset: subject '" + subject.subject + "' has no images");
  train_.schedule.total_steps = train_.steps;  // the schedule spans the budget
  prompts_ = method_.train_prompts(subject_);
  if (prompts_.empty()) throw std::logic_error("method returned no training prompts");
  torch::NoGradGuard no_grad;
  pipeline_.vae->eval();
  std::vector<int64_t> rows = method_.training_images(subject_);
  if (rows.empty())
    for (int64_t i = 0; i < int64_t(subject_.images.size()); ++i) rows.push_back(i);
  std::vector<Image> training_images;
  for (int64_t r : rows) {
    if (r < 0 || r >= int64_t(subject_.images.size()))
      throw InputError("method: image " + std::to_string(r) + " of subject '" + subject_.subject + "', which has " +
                       std::to_string(subject_.images.size()) + " images");
    training_images.push_back(subject_.images[size_t(r)]);
  }
  image_rows_ = torch::tensor(rows, torch::kInt64);
  torch::Tensor pixels = images_to_tensor(training_images);
  auto dist = pipeline_.vae->encode(pixels);
  latent_mean_ = dist.mean;
  latent_std_ = dist.std;
  if (train_.flip) {
    auto flipped = pipeline_.vae->encode(pixels.flip({3}));
    latent_mean_flipped_ = flipped.mean;
    latent_std_flipped_ = flipped.std;
  }
  if (!text_encoder_trains()) cached_context_ = encode_prompts(prompts_);
  if (active_ && (method_.weights_loss_by_object_mask() || method_.instance_augmentation() != InstanceAugmentation::none))
    throw std::logic_error("a method that adds training images cannot also weight by object masks or augment");
  if (method_.weights_loss_by_object_mask()) {
    if (method_.instance_augmentation() != InstanceAugmentation::none)
      throw std::logic_error("object-mask loss weights with an instance augmentation are not supported");
    object_weights_ = object_mask_weights(subject_, rows, latent_mean_.size(-1));
    object_weights_flipped_ = object_weights_.flip({3});
  }
  if (method_.instance_augmentation() != InstanceAugmentation::none) {
    instance_pixels_ = pixels;
    latent_factor_ = pixels.size(-1) / latent_mean_.size(-1);
  }

  // DVAR's frozen batch: drawn once from its own stream, never disturbing training.
  if (dvar_.mode != StopMode::off) {
    torch::Generator gen = make_generator(seed_, "dvar.batch");
    const int64_t b = dvar_.eval_batch_size, n = latent_mean_.size(0);
    std::vector<int64_t> index;
    for (int64_t i = 0; i < b; ++i) {
      index.push_back(i % n);
      eval_prompts_.push_back(prompts_[size_t(i) % prompts_.size()]);
    }
    auto idx = torch::tensor(index);  // rows of the training images
    auto mean = latent_mean_.index_select(0, idx), std = latent_std_.index_select(0, idx);
    eval_latents_ = sample_latents(mean, std, pipeline_.vae->scaling_factor(), gen);
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
  if (search_) return true;  // candidates are written into token rows that require no gradient
  for (const auto& p : pipeline_.text_encoder->parameters())
    if (p.requires_grad()) return true;
  return false;
}

torch::Tensor Trainer::encode_prompts(const std::vector<std::string>& prompts) {
  return models::encode_prompts(pipeline_, prompts);
}

torch::Tensor Trainer::denoising_loss(const torch::Tensor& latents, const torch::Tensor& noise,
                                      const torch::Tensor& timesteps, const torch::Tensor& context,
                                      const torch::Tensor& mask, const torch::Tensor& object_weight,
                                      const torch::Tensor& sample_weight) {
  torch::Tensor noisy = schedule_.add_noise(latents, noise, timesteps);
  torch::Tensor pred = pipeline_.unet->forward(noisy, timesteps, context);
  const std::string& type = pipeline_.scheduler.prediction_type;
  torch::Tensor target = type == "v_prediction" ? schedule_.get_velocity(latents, noise, timesteps)
                         : type == "sample"     ? latents
                                                : noise;
  // Never together with a mask or object weights: the constructor refuses such a method.
  if (sample_weight.defined())
    return ((pred - target).pow(2).mean({1, 2, 3}) * sample_weight.to(pred.device(), pred.scalar_type())).mean();
  if (object_weight.defined()) return ((pred - target) * object_weight).pow(2).mean();
  return mask.defined() ? masked_mse(pred, target, mask) : torch::mse_loss(pred, target);
}

torch::Tensor Trainer::batch_denoising_loss(const TrainingBatch& batch, const torch::Tensor& context,
                                            const torch::Tensor& timesteps) {
  return denoising_loss(batch.latents, batch.noise, timesteps, context, batch.mask, batch.object_weight,
                        batch.sample_weight);
}

void Trainer::grow_training_set(int64_t step, const TrainCallbacks& cb) {
  if (!active_) return;
  TrainingSetAddition add = active_->images_to_add(step, train_.steps);
  if (!add.pixels.defined() || add.pixels.size(0) == 0) return;
  const int64_t k = add.pixels.size(0), n = latent_mean_.size(0);
  if (!add.weights.defined() || add.weights.numel() != k || (add.weights < 0).any().item<bool>())
    throw std::logic_error("an added training image needs one weight >= 0");
  torch::NoGradGuard no_grad;
  auto dist = pipeline_.vae->encode(add.pixels);
  latent_mean_ = torch::cat({latent_mean_, dist.mean});
  latent_std_ = torch::cat({latent_std_, dist.std});
  if (train_.flip) {
    auto flipped = pipeline_.vae->encode(add.pixels.flip({3}));
    latent_mean_flipped_ = torch::cat({latent_mean_flipped_, flipped.mean});
    latent_std_flipped_ = torch::cat({latent_std_flipped_, flipped.std});
  }
  image_rows_ = torch::cat({image_rows_, torch::full({k}, -1, torch::kInt64)});
  if (!sample_weight_.defined()) sample_weight_ = torch::ones({n}, torch::kFloat);
  sample_weight_ = torch::cat({sample_weight_, add.weights.to(torch::kFloat).flatten()});
  if (cb.log && !add.note.empty()) *cb.log << "[train] step " << step << ": " << add.note << "\n";
}

torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask) {
  torch::Tensor squared = (pred - target).pow(2) * mask;
  return (squared.sum({1, 2, 3}) / mask.sum({1, 2, 3}).clamp_min(1.0)).mean();
}

double Trainer::deterministic_objective() {
  torch::NoGradGuard no_grad;
  torch::Tensor context = eval_context_.defined() ? eval_context_ : encode_prompts(eval_prompts_);
  return denoising_loss(eval_latents_, eval_noise_, eval_timesteps_, context).item<double>();
}

Trainer::Optimization Trainer::make_optimizer() const {
  Optimization o;
  std::vector<torch::optim::OptimizerParamGroup> optim_groups;
  for (const auto& g : method_.parameter_groups(train_.lr)) {
    if (g.params.empty()) continue;
    o.all.insert(o.all.end(), g.params.begin(), g.params.end());
    if (!g.stepped) continue;
    const double lr = g.lr_per_image ? g.lr * double(train_.batch_size * train_.grad_accum) : g.lr;
    auto options = std::make_unique<torch::optim::AdamWOptions>(lr);
    options->weight_decay(g.weight_decay.value_or(train_.weight_decay))
        .betas({train_.adam_beta1, train_.adam_beta2})
        .eps(train_.adam_eps);
    optim_groups.emplace_back(g.params, std::move(options));
    o.base_lrs.push_back(lr);
    o.params.insert(o.params.end(), g.params.begin(), g.params.end());
  }
  if (o.all.empty()) throw std::logic_error("method '" + method_.describe() + "' has no trainable parameters");
  if (!optim_groups.empty())
    o.optimizer = std::make_unique<torch::optim::AdamW>(optim_groups, torch::optim::AdamWOptions(train_.lr));
  return o;
}

void Trainer::Optimization::set_lr_factor(double factor) {
  if (!optimizer) return;
  for (size_t i = 0; i < optimizer->param_groups().size(); ++i)
    static_cast<torch::optim::AdamWOptions&>(optimizer->param_groups()[i].options()).lr(base_lrs[i] * factor);
}

TrainingBatch Trainer::draw_batch(torch::Generator& gen) {
  if (instance_pixels_.defined()) return draw_augmented_batch(gen);
  const int64_t b = train_.batch_size;
  TrainingBatch batch;
  torch::Tensor idx = torch::randint(latent_mean_.size(0), {b}, gen, torch::kInt64);
  torch::Tensor mean = latent_mean_.index_select(0, idx), std = latent_std_.index_select(0, idx);
  batch.images = {image_rows_.index_select(0, idx), torch::zeros({b}, torch::kBool), {}};
  if (sample_weight_.defined()) batch.sample_weight = sample_weight_.index_select(0, idx);
  if (object_weights_.defined()) batch.object_weight = object_weights_.index_select(0, idx);
  if (train_.flip) {
    batch.images.flipped = torch::rand({b}, gen) < 0.5;
    auto flip = batch.images.flipped.view({-1, 1, 1, 1});
    mean = torch::where(flip, latent_mean_flipped_.index_select(0, idx), mean);
    std = torch::where(flip, latent_std_flipped_.index_select(0, idx), std);
    if (object_weights_.defined())
      batch.object_weight = torch::where(flip, object_weights_flipped_.index_select(0, idx), batch.object_weight);
  }
  batch.latents = sample_latents(mean, std, pipeline_.vae->scaling_factor(), gen);
  batch.noise = torch::randn(batch.latents.sizes(), gen);
  batch.timesteps = torch::randint(pipeline_.scheduler.num_train_timesteps, {b}, gen, torch::kInt64);
  torch::Tensor prompt_idx = torch::randint(int64_t(prompts_.size()), {b}, gen, torch::kInt64);
  if (cached_context_.defined()) {
    batch.context = models::select_context_rows(cached_context_, prompt_idx);
  } else {
    std::vector<std::string> batch_prompts;
    for (int64_t i = 0; i < b; ++i) batch_prompts.push_back(prompts_[size_t(prompt_idx[i].item<int64_t>())]);
    batch.context = encode_prompts(batch_prompts);
  }
  return batch;
}

TrainingBatch Trainer::draw_augmented_batch(torch::Generator& gen) {
  const int64_t b = train_.batch_size;
  const bool patches = method_.instance_augmentation() == InstanceAugmentation::patch_crop;
  const PatchCropRange range = method_.patch_crop_range();
  TrainingBatch batch;
  torch::Tensor idx = torch::randint(instance_pixels_.size(0), {b}, gen, torch::kInt64);
  torch::Tensor prompt_idx = torch::randint(int64_t(prompts_.size()), {b}, gen, torch::kInt64);
  std::vector<torch::Tensor> pixels, masks;
  std::vector<std::string> batch_prompts;
  batch.images = {image_rows_.index_select(0, idx), torch::zeros({b}, torch::kBool), {}};
  for (int64_t i = 0; i < b; ++i) {
    torch::Tensor image = instance_pixels_[idx[i].item<int64_t>()];
    if (train_.flip && torch::rand({1}, gen).item<double>() < 0.5) {
      image = image.flip({2});
      batch.images.flipped[i] = true;
    }
    const std::string& prompt = prompts_[size_t(prompt_idx[i].item<int64_t>())];
    if (patches) {
      PatchCrop patch = random_patch_crop(image, latent_factor_, range.min_frac, range.max_frac, gen);
      pixels.push_back(patch.pixels);
      batch.images.boxes.push_back(patch.box);
      batch_prompts.push_back(prompt);
    } else {
      ScaledInstance scaled = random_scale_instance(image, latent_factor_, gen);
      pixels.push_back(scaled.pixels);
      masks.push_back(scaled.mask);
      batch_prompts.push_back(scaled.prompt_prefix + prompt);
    }
  }
  {
    torch::NoGradGuard no_grad;  // the VAE is frozen: a fresh posterior for each augmented image
    auto dist = pipeline_.vae->encode(torch::stack(pixels));
    batch.latents = sample_latents(dist.mean, dist.std, pipeline_.vae->scaling_factor(), gen);
  }
  batch.noise = torch::randn(batch.latents.sizes(), gen);
  batch.timesteps = torch::randint(pipeline_.scheduler.num_train_timesteps, {b}, gen, torch::kInt64);
  batch.context = encode_prompts(batch_prompts);
  if (!masks.empty()) batch.mask = torch::stack(masks).to(batch.latents.device(), batch.latents.scalar_type());
  return batch;
}

torch::Tensor Trainer::prior_loss(torch::Generator& gen) {
  const int64_t b = train_.batch_size;
  torch::Tensor idx = torch::randint(prior_mean_.size(0), {b}, gen, torch::kInt64);
  torch::Tensor mean = prior_mean_.index_select(0, idx);
  torch::Tensor latents =
      sample_latents(mean, prior_std_.index_select(0, idx), pipeline_.vae->scaling_factor(), gen);
  torch::Tensor noise = torch::randn(latents.sizes(), gen);
  torch::Tensor timesteps = torch::randint(pipeline_.scheduler.num_train_timesteps, {b}, gen, torch::kInt64);
  torch::Tensor context =
      models::expand_context_batch(prior_context_.defined() ? prior_context_ : encode_prompts({prior_prompt_}), b);
  return denoising_loss(latents, noise, timesteps, context);
}

double Trainer::accumulate_gradients(int64_t step, torch::Generator& gen) {
  double step_loss = 0.0;
  for (int64_t micro = 0; micro < train_.grad_accum; ++micro) {
    TrainingBatch batch = draw_batch(gen);
    const DenoisingLossOf loss_of = [&](const torch::Tensor& context) {
      return batch_denoising_loss(batch, context, batch.timesteps);
    };
    torch::Tensor loss = method_.batch_loss(batch.context, batch.images, loss_of);
    if (prior_weight_ > 0.0) loss = loss + prior_weight_ * prior_loss(gen);
    torch::Tensor extra = method_.extra_loss();
    if (extra.defined()) loss = loss + extra;
    double value = loss.item<double>();
    if (!std::isfinite(value))
      throw RunFailure("training loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") + " at step " +
                       std::to_string(step) + " (lower train.lr or check the method's settings)");
    step_loss += value / double(train_.grad_accum);
    (loss / double(train_.grad_accum)).backward();
  }
  return step_loss;
}

std::vector<double> Trainer::search_step(int64_t step, torch::Generator& gen) {
  if (!search_) throw std::logic_error("search_step: method '" + method_.describe() + "' does not learn by search");
  if (!search_timesteps_.defined()) {
    torch::Generator timestep_gen = make_generator(seed_, "search.timesteps");
    search_timesteps_ = torch::randint(pipeline_.scheduler.num_train_timesteps, {train_.batch_size}, timestep_gen,
                                       torch::kInt64);
  }
  return run_generation(*search_, gen, [&](int64_t i) {
    TrainingBatch batch = draw_batch(gen);  // fresh images, noise and captions per evaluation
    const double value =
        batch_denoising_loss(batch, batch.context, search_timesteps_).item<double>();
    if (!std::isfinite(value))
      throw RunFailure("candidate " + std::to_string(i) + "'s loss became " + (std::isnan(value) ? "NaN" : "infinite") +
                       " at step " + std::to_string(step) + " (check the method's search settings)");
    return value;
  });
}

Trainer::DvarCheck Trainer::check_dvar(int64_t step, DvarRule& rule, const TrainCallbacks& cb) {
  DvarCheck check;
  if (dvar_.mode == StopMode::off || (step - 1) % dvar_.every != 0) return check;
  const bool fired_before = rule.triggered();  // triggered() stays true once the rule fired
  double objective = deterministic_objective();
  check.ratio = rule.add(objective);
  if (cb.on_dvar) cb.on_dvar(step, float(objective), float(check.ratio));
  check.fired_first = rule.triggered() && !fired_before;
  return check;
}

void Trainer::log_step(const TrainCallbacks& cb, int64_t step, double loss, double lr, double wall) const {
  if (!cb.log || !(step % train_.log_every == 0 || step == 1 || step == train_.steps)) return;
  *cb.log << "[train] step " << step << "/" << train_.steps << " loss " << std::setprecision(5) << loss << " lr " << lr
          << " (" << std::fixed << std::setprecision(2) << double(step) / std::max(wall, 1e-9) << " steps/s)"
          << std::defaultfloat << "\n";
}

TrainResult Trainer::run(const TrainCallbacks& cb) {
  auto start = std::chrono::steady_clock::now();
  // A search method has no optimizer (and its tensors require no gradient).
  Optimization opt = search_ ? Optimization{} : make_optimizer();
  torch::Generator gen = make_generator(seed_, "train");
  DvarRule rule(dvar_);
  TrainResult result;
  if (!search_) {  // a search's cost is its population's, known at its first step
    result.forward_images_per_step =
        train_.grad_accum * train_.batch_size * (method_.unet_passes_per_image() + (prior_weight_ > 0.0 ? 1 : 0));
    result.backward_images_per_step = result.forward_images_per_step;
  }
  pipeline_.unet->train();
  pipeline_.text_encoder->train();

  for (int64_t step = 1; step <= train_.steps; ++step) {
    // DVAR's objective of the weights this step starts from (dvar.hpp: the
    // reference's order), before the method's per-step state (DyLoRA's rank).
    DvarCheck dvar = check_dvar(step, rule, cb);
    if (dvar.fired_first) result.dvar_stop_step = step;
    const double factor = train_.schedule.factor(step);
    grow_training_set(step, cb);
    method_.before_step(step, gen);
    double step_loss = 0.0;
    if (search_) {
      const std::vector<double> fitness = search_step(step, gen);
      step_loss = std::accumulate(fitness.begin(), fitness.end(), 0.0) / double(fitness.size());
      result.forward_images_per_step = int64_t(fitness.size()) * train_.batch_size;
    } else {
      opt.set_lr_factor(factor);
      clear_gradients(opt.all);
      step_loss = accumulate_gradients(step, gen);
      if (train_.max_grad_norm > 0 && !opt.params.empty())
        torch::nn::utils::clip_grad_norm_(opt.params, train_.max_grad_norm);
      if (opt.optimizer) opt.optimizer->step();
    }
    method_.after_step(step);
    result.steps_trained = step;
    result.last_loss = step_loss;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // A search, or a method whose groups are only scored, has no learning rate.
    const float lr_now = opt.base_lrs.empty() ? 0.0f : float(opt.base_lrs[0] * factor);
    if (cb.on_step) cb.on_step(step, float(step_loss), lr_now, wall);

    // The step that fired has taken its update (as the reference's): the stop delta is after it.
    if (dvar.fired_first) {
      for (const auto& [k, v] : method_.delta()) result.delta_at_dvar_stop[k] = v.detach().clone();
      if (cb.log) *cb.log << "[train] DVAR stop rule fired at step " << step << " (ratio " << dvar.ratio << ")\n";
    }
    bool stop_now = dvar.fired_first && dvar_.mode == StopMode::stop;
    if (cb.after_update && cb.after_update(step)) stop_now = true;
    log_step(cb, step, step_loss, lr_now, wall);
    if (stop_now) break;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pipeline_.unet->eval();
  pipeline_.text_encoder->eval();
  return result;
}

}  // namespace pbench
