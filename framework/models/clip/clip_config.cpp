#include "framework/models/clip/clip_config.hpp"

#include <algorithm>

#include "framework/util/errors.hpp"

namespace pbench::models {
namespace {

bool lists(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

ClipEncoderConfig parse_encoder(const JsonSection& s, int64_t hidden, int64_t inter, int64_t layers, int64_t heads) {
  ClipEncoderConfig e;
  e.hidden_size = s.get_positive("hidden_size", hidden);
  e.intermediate_size = s.get_positive("intermediate_size", inter);
  e.num_layers = s.get_positive("num_hidden_layers", layers);
  e.num_heads = s.get_positive("num_attention_heads", heads);
  e.layer_norm_eps = s.get_double("layer_norm_eps", 1e-5);
  if (!(e.layer_norm_eps > 0)) s.fail("layer_norm_eps", "expected a positive number");
  e.act = parse_activation(s, "hidden_act", "quick_gelu");
  check_heads(s, e.hidden_size, e.num_heads);
  return e;
}

}  // namespace

ClipTextConfig parse_clip_text_config(const JsonSection& s) {
  ClipTextConfig c;
  // transformers CLIPTextConfig defaults (ViT-B/32 text tower).
  c.encoder = parse_encoder(s, 512, 2048, 12, 8);
  c.vocab_size = s.get_positive("vocab_size", 49408);
  c.max_position_embeddings = s.get_positive("max_position_embeddings", 77);
  c.projection_dim = s.get_positive("projection_dim", 512);
  int64_t eos = s.get_int("eos_token_id", kClipEotTokenId);
  c.eot_token_id = eos == 2 ? kClipEotTokenId : eos;
  if (c.eot_token_id < 0 || c.eot_token_id >= c.vocab_size)
    s.fail("eos_token_id", "expected an id below vocab_size " + std::to_string(c.vocab_size));
  c.with_projection = lists(s.architectures(), "CLIPTextModelWithProjection");
  return c;
}

ClipVisionConfig parse_clip_vision_config(const JsonSection& s) {
  ClipVisionConfig c;
  // transformers CLIPVisionConfig defaults (ViT-B/32 vision tower).
  c.encoder = parse_encoder(s, 768, 3072, 12, 12);
  c.image_size = s.get_positive("image_size", 224);
  c.patch_size = s.get_positive("patch_size", 32);
  c.num_channels = s.get_positive("num_channels", 3);
  c.projection_dim = s.get_positive("projection_dim", 512);
  if (c.image_size % c.patch_size != 0)
    s.fail("patch_size", "image_size " + std::to_string(c.image_size) + " is not a multiple of patch_size " +
                             std::to_string(c.patch_size));
  c.with_projection = lists(s.architectures(), "CLIPVisionModelWithProjection");
  return c;
}

HfModelKind detect_model_kind(const JsonSection& root) {
  if (root.has("_class_name"))
    throw InputError(root.where("_class_name") + ": '" + root.get_string("_class_name", "") +
                     "' (a diffusers config) is not supported yet; expected a CLIP or ViT config");
  std::string type = root.get_string("model_type", "");
  if (type == "clip") return HfModelKind::kClipModel;
  if (type == "clip_text_model") return HfModelKind::kClipText;
  if (type == "clip_vision_model") return HfModelKind::kClipVision;
  if (type == "vit") return HfModelKind::kVit;
  auto arch = root.architectures();
  if (lists(arch, "CLIPModel")) return HfModelKind::kClipModel;
  if (lists(arch, "CLIPTextModel") || lists(arch, "CLIPTextModelWithProjection")) return HfModelKind::kClipText;
  if (lists(arch, "CLIPVisionModel") || lists(arch, "CLIPVisionModelWithProjection")) return HfModelKind::kClipVision;
  if (lists(arch, "ViTModel")) return HfModelKind::kVit;
  root.fail("model_type", "unsupported model_type '" + type +
                              "'; expected clip, clip_text_model, clip_vision_model or vit");
}

ClipTextConfig clip_text_config_of(const JsonSection& root) {
  if (detect_model_kind(root) == HfModelKind::kClipModel) {
    ClipTextConfig c = parse_clip_text_config(root.sub("text_config"));
    c.projection_dim = root.get_positive("projection_dim", 512);
    c.with_projection = true;
    return c;
  }
  if (detect_model_kind(root) != HfModelKind::kClipText)
    root.fail("model_type", "expected a CLIP text config (clip_text_model or clip)");
  return parse_clip_text_config(root);
}

ClipVisionConfig clip_vision_config_of(const JsonSection& root) {
  if (detect_model_kind(root) == HfModelKind::kClipModel) {
    ClipVisionConfig c = parse_clip_vision_config(root.sub("vision_config"));
    c.projection_dim = root.get_positive("projection_dim", 512);
    c.with_projection = true;
    return c;
  }
  if (detect_model_kind(root) != HfModelKind::kClipVision)
    root.fail("model_type", "expected a CLIP vision config (clip_vision_model or clip)");
  return parse_clip_vision_config(root);
}

}  // namespace pbench::models
