#pragma once
// Small randomly initialised models for the sampling and metric tests, built
// from configs here so the tests need neither ../shared nor builtin weights.
// Weights come from torch's global generator: call torch::manual_seed first
// when two builds must be equal.
#include <memory>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "tests/support/test_paths.hpp"
#include "tests/support/tiny_configs.hpp"

namespace pbench::test {

inline std::shared_ptr<ClipTokenizer> asset_tokenizer() {
  static auto tok = std::make_shared<ClipTokenizer>(
      ClipTokenizer::from_folder(source_dir() / "framework" / "assets" / "clip_tokenizer"));
  return tok;
}

// Text encoder D=32, UNet (32, 64) with cross-attention 32, VAE (8, 16):
// 16x16 images from 8x8 latents.
inline models::Pipeline tiny_pipeline() {
  models::Pipeline p;
  p.source = "test:tiny";
  p.tokenizer = asset_tokenizer();
  models::ClipTextConfig text;
  text.encoder = models::ClipEncoderConfig{32, 64, 1, 2, 1e-5, models::Activation::kQuickGelu};
  p.text_encoder = models::ClipTextModel(text);
  p.unet = models::UNet2DCondition(models::UNetConfig::from_json(fixtures::tiny_unet_json(), "tiny unet"));
  nlohmann::json vae{{"block_out_channels", {8, 16}}, {"layers_per_block", 1}, {"latent_channels", 4},
                     {"norm_num_groups", 8}};
  p.vae = models::AutoencoderKL(models::VaeConfig::from_json(vae, "tiny vae"));
  p.scheduler = fixtures::sd15_scheduler_config();
  p.resolution = 16;
  p.text_encoder->eval();
  p.unet->eval();
  p.vae->eval();
  return p;
}

// CLIP towers with projection 16 and image_size 32 (patch 8), for the metrics.
inline models::ClipTextConfig tiny_clip_text_config() {
  models::ClipTextConfig c;
  c.encoder = models::ClipEncoderConfig{32, 64, 1, 2, 1e-5, models::Activation::kQuickGelu};
  c.projection_dim = 16;
  c.with_projection = true;
  return c;
}
inline models::ClipVisionConfig tiny_clip_vision_config() {
  models::ClipVisionConfig c;
  c.encoder = models::ClipEncoderConfig{32, 64, 1, 2, 1e-5, models::Activation::kQuickGelu};
  c.image_size = 32;
  c.patch_size = 8;
  c.projection_dim = 16;
  c.with_projection = true;
  return c;
}
inline models::VitConfig tiny_vit_config() {
  models::VitConfig c;
  c.hidden_size = 24;
  c.num_layers = 1;
  c.num_heads = 2;
  c.intermediate_size = 48;
  c.layer_norm_eps = 1e-6;
  c.image_size = 32;
  c.patch_size = 8;
  return c;
}

}  // namespace pbench::test
