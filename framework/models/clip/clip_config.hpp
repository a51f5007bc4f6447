#pragma once
// CLIPTextConfig / CLIPVisionConfig / CLIPModel configs from Hugging Face
// `config.json`, standalone or nested under `text_config` / `vision_config`.
// Absent keys take the transformers defaults (newer Hub saves omit them).
#include <string>

#include "framework/models/clip/clip_encoder.hpp"
#include "framework/models/hf/hf_config.hpp"

namespace pbench::models {

// The CLIP tokenizer's end-of-text id (the largest id of the base vocabulary).
constexpr int64_t kClipEotTokenId = 49407;

struct ClipTextConfig {
  // Defaults = transformers' (ViT-B/32 text tower), so a default-constructed config is a usable model.
  ClipEncoderConfig encoder{512, 2048, 12, 8, 1e-5, Activation::kQuickGelu};
  int64_t vocab_size = 49408;
  int64_t max_position_embeddings = 77;
  int64_t projection_dim = 512;
  // Token whose FIRST occurrence per row gives the pooled output. Configs with
  // the legacy eos_token_id 2 (SD v1.5, openai/clip-*) mean the tokenizer's EOT
  // 49407; the reference then takes argmax(ids), which is the first EOT only
  // while no added token (Textual Inversion, ids >= 49408) is present.
  int64_t eot_token_id = kClipEotTokenId;
  bool with_projection = false;  // CLIPTextModelWithProjection / CLIPModel
};

struct ClipVisionConfig {
  ClipEncoderConfig encoder{768, 3072, 12, 12, 1e-5, Activation::kQuickGelu};  // ViT-B/32
  int64_t image_size = 224;
  int64_t patch_size = 32;
  int64_t num_channels = 3;
  int64_t projection_dim = 512;
  bool with_projection = false;  // CLIPVisionModelWithProjection / CLIPModel
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

// `section` is a CLIPTextConfig object (standalone file or `text_config`).
ClipTextConfig parse_clip_text_config(const JsonSection& section);
ClipVisionConfig parse_clip_vision_config(const JsonSection& section);

// Which architecture a config.json describes.
enum class HfModelKind { kClipModel, kClipText, kClipVision, kVit };
// InputError naming the file for anything else; diffusers configs (with a
// `_class_name`) are reported as "not supported yet" naming the class.
HfModelKind detect_model_kind(const JsonSection& root);

// Reads the text tower of any CLIP config: a CLIPTextConfig file or the
// `text_config` of a CLIPModel file (projection on, CLIPModel's projection_dim).
ClipTextConfig clip_text_config_of(const JsonSection& root);
ClipVisionConfig clip_vision_config_of(const JsonSection& root);

}  // namespace pbench::models
