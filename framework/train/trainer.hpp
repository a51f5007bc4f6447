#pragma once
// The one training loop every method runs through: AdamW with per-group
// learning rates, warm-up / constant / cosine / linear schedules, gradient
// accumulation and clipping, ε-prediction (or v-prediction) MSE on the
// pipeline's noise schedule, an optional extra loss from the method, DVAR's
// deterministic objective, and NaN/Inf detection. Every random draw comes
// from generators seeded by the run's `seed` and a purpose tag.
#include <torch/torch.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "datasets/dataset.hpp"
#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/train/dvar.hpp"
#include "framework/train/lr_schedule.hpp"
#include "framework/train/method.hpp"

namespace pbench {

class ActiveTrainingSet;
class CandidateSearch;

// A run config's `train` section. Ranges are checked where the config is read, so
// that `run_sweep --plan` refuses what AdamW would end with a LibTorch check (a
// stack trace) and what would divide by zero (log_every: 0).
struct TrainOptions {
  int64_t steps = 100;
  int64_t batch_size = 2;
  int64_t grad_accum = 1;
  double lr = 1e-4;
  LrSchedule schedule;  // kind and warm-up from the config; its total is `steps` (Trainer)
  // AdamW's decay of the parameter groups that set none (Textual Inversion, P+,
  // prompt tuning, DreamBooth: the references' AdamW default); methods with a
  // `weight_decay` key use their own.
  double weight_decay = 1e-2;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  double max_grad_norm = 1.0;  // 0: no clipping
  std::optional<int64_t> num_class_images;  // caps every method's class-image count (the workload's)
  bool flip = false;           // random horizontal flips (latents of both orientations are cached)
  int64_t log_every = 10;
  bool save_delta = true;      // the learned delta next to the run file (the workload's)

  template <class V>
  void fields(V& v) {
    v("steps", steps, "optimizer steps (the budget); `method` takes the method's own", cfg::positive());
    v("batch_size", batch_size, "training images per micro-batch", cfg::positive());
    v("grad_accum", grad_accum, "micro-batches per optimizer step", cfg::positive());
    v("lr", lr, "learning rate of the groups whose method sets none", cfg::learning_rate());
    v("lr_schedule", schedule.kind, "multiplier of every group's rate over the steps",
      cfg::one_of({"constant", "warmup_constant", "cosine", "linear"}));
    v("warmup_steps", schedule.warmup_steps, "linear warm-up steps", cfg::at_least(0));
    v("weight_decay", weight_decay, "AdamW decay of the groups whose method sets none", cfg::at_least(0));
    v("adam_beta1", adam_beta1, "AdamW beta1", cfg::described(unit_interval_open(), "a number in [0, 1)"));
    v("adam_beta2", adam_beta2, "AdamW beta2", cfg::described(unit_interval_open(), "a number in [0, 1)"));
    v("adam_eps", adam_eps, "AdamW epsilon", cfg::greater_than(0));
    v("max_grad_norm", max_grad_norm, "gradient clipping norm; 0 = no clipping", cfg::at_least(0));
    v("num_class_images", num_class_images, "caps every method's class-image count; null = the method's own",
      cfg::at_least(1));
    v("flip", flip, "random horizontal flips of the training images");
    v("log_every", log_every, "steps between loss lines in the log", cfg::positive());
    v("save_delta", save_delta, "write the learned delta next to the run file (safetensors)");
  }

 private:
  static cfg::Allowed unit_interval_open() {
    cfg::Allowed a = cfg::between(0, 1);
    a.max_open = true;
    return a;
  }
};

struct TrainCallbacks {
  std::function<void(int64_t step, float loss, float lr, double wall)> on_step;
  std::function<void(int64_t step, float objective, float ratio)> on_dvar;
  // After each step's update and on_step: a monitor of the weights (CLIP early stopping).
  // Returning true ends training after this step, as a stop rule in stop mode does.
  std::function<bool(int64_t step)> after_update;
  std::ostream* log = nullptr;
};

struct TrainResult {
  int64_t steps_trained = 0;
  int64_t dvar_stop_step = -1;  // first step where the DVAR rule fired; -1 if never
  TensorMap delta_at_dvar_stop;  // the method's delta at that step (monitor mode)
  double last_loss = 0.0;
  double seconds = 0.0;
  // A step's cost in UNet evaluations of one image, the axis on which gradient and search
  // methods compare (gradient-free Textual Inversion takes no backward pass but
  // population x batch forward ones): grad_accum x batch (x 2 with a prior term) forward
  // passes, each also backpropagated, for a gradient step (x the method's UNet passes per
  // image: DisenBooth takes 2); population x batch forward passes
  // and none backward for a CandidateSearch generation. DVAR's and CLIP's monitoring passes
  // are not training cost and are not counted.
  int64_t forward_images_per_step = 0;
  int64_t backward_images_per_step = 0;
};

// One micro-batch of the denoising loss: latents drawn from the cached posteriors
// (scaled), their noise and timesteps, and the captions' context.
struct TrainingBatch {
  torch::Tensor latents, noise, timesteps, context;
  // [B, 1, h, w] latent cells the loss sees (Custom Diffusion's random scale); undefined = all.
  torch::Tensor mask;
  // [B, 1, h, w] soft object masks weighting the loss (Method::weights_loss_by_object_mask);
  // undefined = none.
  torch::Tensor object_weight;
  // [B] factors on each row's loss (images an ActiveTrainingSet added, with the subject's at 1);
  // undefined = none (until a method adds images, and for every other method).
  torch::Tensor sample_weight;
  BatchImages images;  // the subject images behind the rows (Method::batch_loss)
};

class Trainer {
 public:
  Trainer(models::Pipeline& pipeline, Method& method, const SubjectData& subject, TrainOptions train, DvarOptions dvar,
          int64_t seed);
  TrainResult run(const TrainCallbacks& callbacks);

  // Prior preservation (DreamBooth): every step adds `weight` x the same
  // denoising loss on a batch of class images (generated by the frozen model)
  // captioned `class_prompt`.
  void set_prior(const std::vector<Image>& class_images, const std::string& class_prompt, double weight);

  // DVAR's objective on the frozen evaluation batch (forward only).
  double deterministic_objective();

  // ---- run()'s steps, in the order it takes them; public so each can be tested ----
  // AdamW over the method's parameter groups, their base rates and every trained tensor.
  struct Optimization {
    std::unique_ptr<torch::optim::AdamW> optimizer;  // null when no group is stepped
    std::vector<double> base_lrs;       // one per stepped group, before the schedule's factor
    std::vector<torch::Tensor> params;  // the stepped groups' tensors (clipping)
    std::vector<torch::Tensor> all;     // every group's tensors (clearing)
    void set_lr_factor(double factor);  // every group's rate = base x factor
  };
  Optimization make_optimizer() const;
  // DVAR's objective of the weights `step` starts from, added to `rule` (every dvar.every steps).
  struct DvarCheck {
    bool fired_first = false;  // the rule fired at this step and not before
    double ratio = 1.0;
  };
  DvarCheck check_dvar(int64_t step, DvarRule& rule, const TrainCallbacks& callbacks);
  // One micro-batch, drawn from `gen` in a fixed order (reproducible runs); augmented as
  // the method asks (Method::instance_augmentation).
  TrainingBatch draw_batch(torch::Generator& gen);
  // The prior-preservation term on a batch of class images (set_prior first).
  torch::Tensor prior_loss(torch::Generator& gen);
  // train.grad_accum micro-batches' losses backpropagated (with the prior term and the
  // method's extra loss); returns the step's mean loss. RunFailure when it is NaN or infinite.
  double accumulate_gradients(int64_t step, torch::Generator& gen);
  // The step of a CandidateSearch method, one generation (framework/train/candidate_search.hpp):
  // each candidate scored by the denoising loss on its own fresh batch at the search's
  // timesteps, drawn once per trainer (the reference's), with autograd off; returns the
  // candidates' fitness. RunFailure when one is NaN or infinite; logic_error for a method
  // that does not search.
  std::vector<double> search_step(int64_t step, torch::Generator& gen);
  // Before `step`'s update: asks an ActiveTrainingSet method (framework/train/
  // active_training_set.hpp) for images and appends them, encoded once, with their loss weights.
  void grow_training_set(int64_t step, const TrainCallbacks& callbacks);
  // The progress line every train.log_every steps (and the first and last).
  void log_step(const TrainCallbacks& callbacks, int64_t step, double loss, double lr, double wall) const;

 private:
  torch::Tensor encode_prompts(const std::vector<std::string>& prompts);
  // True when the prompts' embeddings change during training (a trained text encoder or token
  // row, or a search that writes token rows): they are encoded per batch, never cached.
  bool text_encoder_trains() const;
  // The MSE of the prediction; with a mask, Custom Diffusion's masked form (trainer.cpp); with
  // an object weight m, mean((m * (pred - target))^2) (Perfusion's); with sample weights w
  // ([B]), the batch mean of w_i x row i's mean (framework/train/active_training_set.hpp).
  torch::Tensor denoising_loss(const torch::Tensor& latents, const torch::Tensor& noise, const torch::Tensor& timesteps,
                               const torch::Tensor& context, const torch::Tensor& mask = {},
                               const torch::Tensor& object_weight = {}, const torch::Tensor& sample_weight = {});
  // The batch's loss as every path computes it (training, search, a method's extra passes).
  torch::Tensor batch_denoising_loss(const TrainingBatch& batch, const torch::Tensor& context,
                                     const torch::Tensor& timesteps);

  // draw_batch for InstanceAugmentation::random_scale and patch_crop: images augmented and
  // encoded each draw.
  TrainingBatch draw_augmented_batch(torch::Generator& gen);

  models::Pipeline& pipeline_;
  Method& method_;
  const SubjectData& subject_;
  TrainOptions train_;
  DvarOptions dvar_;
  int64_t seed_;
  sched::NoiseSchedule schedule_;
  std::vector<std::string> prompts_;
  // Posterior statistics of every training image (and of its mirror image when flips are on).
  torch::Tensor latent_mean_, latent_std_, latent_mean_flipped_, latent_std_flipped_;
  torch::Tensor cached_context_;  // prompt embeddings when the text encoder is frozen
  // The training images as the VAE takes them, kept when each draw re-encodes an augmented copy.
  torch::Tensor instance_pixels_;
  int64_t latent_factor_ = 8;  // pixels per latent cell
  // Rows of SubjectData::images the training images are (Method::training_images; all by default);
  // -1 for an image an ActiveTrainingSet added.
  torch::Tensor image_rows_;
  // [N] each training image's loss factor; undefined until an ActiveTrainingSet adds images.
  torch::Tensor sample_weight_;
  // The training images' soft object masks on the latent grid, [N, 1, h, w], each divided by its
  // maximum (and mirrored); undefined unless the method weights its loss by them.
  torch::Tensor object_weights_, object_weights_flipped_;
  // Prior preservation.
  torch::Tensor prior_mean_, prior_std_, prior_context_;
  double prior_weight_ = 0.0;
  std::string prior_prompt_;
  CandidateSearch* search_ = nullptr;  // the method, when it learns by search (no optimizer)
  torch::Tensor search_timesteps_;     // the search's timesteps, drawn once
  ActiveTrainingSet* active_ = nullptr;  // the method, when it grows its training set
  // DVAR's frozen batch.
  torch::Tensor eval_latents_, eval_noise_, eval_timesteps_;
  std::vector<std::string> eval_prompts_;
  torch::Tensor eval_context_;
};

// Drops the gradients of `params` before a step (undefined, not zero), as
// PyTorch's zero_grad(set_to_none=True): AdamW skips a tensor without a
// gradient, so one that gets none in a step is not moved at all (no weight
// decay, no momentum) — DyLoRA's unsampled components (arXiv 2210.07558).
// LibTorch 1.13's Optimizer::zero_grad() fills zeros, which AdamW would decay
// and push along its running averages.
void clear_gradients(const std::vector<torch::Tensor>& params);

// Custom Diffusion's masked denoising loss, with the reference's arithmetic (diffusers'
// examples/custom_diffusion): squared errors ([B, C, h, w]) summed over channels and the
// cells of `mask` ([B, 1, h, w], 0/1), divided by the mask's cell count, then the batch
// mean. That is C (4 latent channels) x the masked mean, so the instance term weighs C x
// the prior term's plain mean; kept, as it is what the reference trains with. An image
// whose mask has no cell (a tiny model's smallest scales; never at 512 px) adds zero,
// where the reference would divide by zero.
torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& mask);

// uint8 RGB images -> uint8 [N, H, W, 3] (as run files and metrics take them).
torch::Tensor images_u8(const std::vector<Image>& images);
// u8 image tensor [N, H, W, 3] -> its bytes (run-file samples).
std::vector<uint8_t> bytes_of(const torch::Tensor& u8);
// Image i of a u8 image tensor [N, H, W, 3] (to write it as a PNG).
Image image_at(const torch::Tensor& u8, int64_t i);
// uint8 RGB images -> float NCHW in [-1, 1] (the VAE's input).
torch::Tensor images_to_tensor(const std::vector<Image>& images);

}  // namespace pbench
