#pragma once
// The typed recipes of `pbench pretrain <component>`: one struct per component,
// read from an optional YAML file and `key=value` overrides (pretrain_config.cpp)
// with the checks of framework/config/options.hpp. The member initializers are
// the shipped recipes (experiments/pretrain/<component>.yaml repeats them for
// users to copy; tests/nn/test_pretrain_recipes.cpp keeps the two equal). Step
// counts are sized so that each component finishes in <= 15 minutes on the
// 2-core reference machine (docs/mini_world.md has the measured times).
#include <cstdint>

#include "framework/config/options.hpp"

namespace pbench::pretrain {

// What every component has: the seed of its streams, the optimisation budget,
// the size of its rendered pool and of its held-out evaluation, the
// checkpoint interval. Each component sets its own defaults.
struct StageRecipe {
  int64_t seed = 0;
  int64_t steps = 1000;
  int64_t warmup_steps = 50;
  int64_t batch = 32;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  int64_t pool_size = 8000;
  int64_t held_out = 512;
  int64_t resolution = 64;
  double checkpoint_minutes = 5.0;

  template <class V>
  void common_fields(V& v) {
    v("seed", seed, "seed of the init, pool and every step's draws (each derived by purpose)");
    v("steps", steps, "optimizer steps (warmup, then cosine decay to 0 at this step)", cfg::at_least(1));
    v("warmup_steps", warmup_steps, "linear learning-rate warmup steps", cfg::at_least(0));
    v("batch", batch, "images (or image-caption pairs) per step", cfg::at_least(2));
    v("learning_rate", learning_rate, "AdamW peak learning rate", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW decoupled weight decay", cfg::at_least(0));
    v("pool_size", pool_size, "training renders drawn once up front (batches index into them)", cfg::at_least(2));
    v("held_out", held_out, "held-out renders (triples never trained on) of the final evaluation", cfg::at_least(1));
    v("resolution", resolution, "render size in pixels", cfg::between(16, 256));
    v("checkpoint_minutes", checkpoint_minutes, "checkpoint at least this often (wall clock)",
      cfg::greater_than(0));
  }
};

// AutoencoderKL: L1 reconstruction + KL (vae_stage.cpp says why no LPIPS/GAN).
struct VaeRecipe : StageRecipe {
  double kl_weight = 1e-6;
  double mse_weight = 1.0;
  VaeRecipe() {
    steps = 1500;
    warmup_steps = 100;
    batch = 16;
    learning_rate = 2e-3;
    pool_size = 8000;
    held_out = 256;
  }
  template <class V>
  void fields(V& v) {
    common_fields(v);
    v("kl_weight", kl_weight, "weight of KL(q(z|x) || N(0,I)) per pixel (LDM's kl_weight)", cfg::at_least(0));
    v("mse_weight", mse_weight, "weight of a squared-error term beside L1 (sharpens PSNR)", cfg::at_least(0));
  }
};

// CLIP contrastive pretraining (clip_stage.cpp). `clip` and `metric-clip`
// share the struct; metric-clip's defaults add its own crop augmentation.
struct ClipRecipe : StageRecipe {
  double crop_scale_min = 1.0;  // random resized crop of this area fraction .. 1 (1 = no crop)
  int64_t scene_group = 4;      // hard negatives: renders per batch group sharing colour and background
  ClipRecipe() {
    steps = 1700;
    warmup_steps = 100;
    batch = 128;
    learning_rate = 1e-3;
    weight_decay = 0.1;
    pool_size = 12000;
    held_out = 512;
  }
  template <class V>
  void fields(V& v) {
    common_fields(v);
    v("crop_scale_min", crop_scale_min, "random resized crops keep this fraction of the area or more (1 = none)",
      cfg::between(0.05, 1.0));
    v("scene_group", scene_group, "batches are groups of this many renders sharing colour and background "
      "(hard negatives for the class; 1 = uniform batches)", cfg::at_least(1));
  }
};

// The metric CLIP's own augmentation: random resized crops.
struct MetricClipRecipe : ClipRecipe {
  MetricClipRecipe() { crop_scale_min = 0.7; }
};

// DINO self-distillation (dino_stage.cpp: the paper's defaults and which we scaled).
struct DinoRecipe : StageRecipe {
  int64_t out_dim = 1024;         // paper 65536
  int64_t head_hidden = 512;      // paper 2048
  int64_t head_bottleneck = 64;   // paper 256
  int64_t local_crops = 4;        // paper 8 (ViT-S/16: 10)
  int64_t local_size = 16;        // paper 96 of 224; ours 16 of 32
  double global_scale_min = 0.4;  // paper (0.4, 1)
  double local_scale_min = 0.1;   // paper (0.05, 0.4)
  double local_scale_max = 0.4;
  double student_temp = 0.1;
  double teacher_temp = 0.04;
  double center_momentum = 0.9;
  double teacher_momentum = 0.99;  // paper 0.996 -> 1 (cosine); ours starts lower for a short run
  double weight_decay_end = 0.4;   // paper 0.04 -> 0.4 (cosine)
  int64_t views_per_object = 4;    // renders of one object in different scenes (dino_stage.cpp)
  double two_colour_fraction = 0.3;
  DinoRecipe() {
    steps = 1000;
    warmup_steps = 100;
    batch = 64;
    learning_rate = 5e-4 * 64.0 / 256.0 * 4.0;  // paper 5e-4 * batch / 256; x4 for a short run (ours)
    weight_decay = 0.04;
    pool_size = 3000;
    held_out = 500;
  }
  template <class V>
  void fields(V& v) {
    common_fields(v);
    v("out_dim", out_dim, "prototypes K of the projection head", cfg::at_least(2));
    v("head_hidden", head_hidden, "hidden width of the 3-layer head MLP", cfg::at_least(1));
    v("head_bottleneck", head_bottleneck, "bottleneck before the weight-normalised last layer", cfg::at_least(1));
    v("local_crops", local_crops, "local crops per image (besides 2 global)", cfg::at_least(0));
    v("local_size", local_size, "side of a local crop in pixels (a multiple of the patch size)", cfg::at_least(1));
    v("global_scale_min", global_scale_min, "global crops keep this area fraction .. 1", cfg::between(0.05, 1.0));
    v("local_scale_min", local_scale_min, "local crops keep local_scale_min .. local_scale_max", cfg::between(0.01, 1));
    v("local_scale_max", local_scale_max, "see local_scale_min", cfg::between(0.01, 1.0));
    v("student_temp", student_temp, "student softmax temperature", cfg::greater_than(0));
    v("teacher_temp", teacher_temp, "teacher softmax temperature (sharpening)", cfg::greater_than(0));
    v("center_momentum", center_momentum, "EMA momentum of the teacher's centre", cfg::between(0, 1));
    v("teacher_momentum", teacher_momentum, "EMA momentum of the teacher at step 0 (cosine to 1)", cfg::between(0, 1));
    v("weight_decay_end", weight_decay_end, "weight decay at the last step (cosine from weight_decay)",
      cfg::at_least(0));
    v("views_per_object", views_per_object, "scenes each pool object is rendered in", cfg::at_least(2));
    v("two_colour_fraction", two_colour_fraction, "patterned pool objects given a second colour",
      cfg::between(0, 1));
  }
};

// Latent diffusion on the frozen vae and text encoder (unet_stage.cpp).
struct UnetRecipe : StageRecipe {
  double caption_dropout = 0.1;
  double ema_decay = 0.999;
  double min_snr_gamma = 5.0;
  // The prompt-following evaluation (prompt_following.hpp) at the end of each chunk.
  int64_t eval_prompts = 200;
  double eval_guidance = 5.0;
  int64_t eval_steps = 50;
  // Sized to two 45-minute chunks at 2 threads (1.47 s per batch-32 step
  // here, measured; 1.6 with the EMA): 3000 steps ≈ 80 minutes.
  UnetRecipe() {
    steps = 3000;
    warmup_steps = 200;
    batch = 32;
    learning_rate = 4e-4;
    pool_size = 20000;
    held_out = 256;
  }
  template <class V>
  void fields(V& v) {
    common_fields(v);
    v("caption_dropout", caption_dropout, "captions replaced by \"\" (for classifier-free guidance)",
      cfg::between(0, 1));
    v("ema_decay", ema_decay, "EMA of the weights (the shipped ones); warmed up as min(decay, (1+n)/(10+n))",
      cfg::between(0, 1));
    v("min_snr_gamma", min_snr_gamma, "Min-SNR loss weight min(SNR, gamma)/SNR (arXiv:2303.09556); 0 = plain MSE",
      cfg::at_least(0));
    v("eval_prompts", eval_prompts, "held-out captions sampled and classified by the metric CLIP (<= held_out)",
      cfg::at_least(0));
    v("eval_guidance", eval_guidance, "classifier-free guidance scale of those samples", cfg::at_least(1));
    v("eval_steps", eval_steps, "DDIM steps of those samples", cfg::at_least(1));
  }
};

}  // namespace pbench::pretrain
