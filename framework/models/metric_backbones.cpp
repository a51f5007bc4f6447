#include "framework/models/metric_backbones.hpp"

#include <cmath>

#include "framework/models/deterministic_init.hpp"
#include "framework/models/hf/hf_config.hpp"
#include "framework/models/hf/hf_folder.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::models {

namespace fs = std::filesystem;

namespace {

void require_weights(const fs::path& folder, const std::string& expected_layout) {
  if (!fs::is_directory(folder))
    throw InputError(folder.string() + ": not a folder and not a builtin backbone; expected " + expected_layout);
  if (!fs::is_regular_file(folder / "model.safetensors"))
    throw InputError((folder / "model.safetensors").string() + ": missing weights; expected " + expected_layout);
}

const char* const kClipLayout =
    "builtin:mini-clip, builtin:tiny-clip or a Hugging Face CLIPModel folder (config.json, model.safetensors, preprocessor_config.json, "
    "vocab.json, merges.txt): download openai/clip-vit-base-patch32 with huggingface-cli on a machine with internet "
    "and pass its folder";
const char* const kDinoLayout =
    "builtin:mini-dino, builtin:tiny-dino or a Hugging Face ViTModel folder (config.json, model.safetensors): download "
    "facebook/dino-vits16 with huggingface-cli on a machine with internet and pass its folder";

// The LayerNorm eps of a DINO metric backbone. facebook/dino-* configs say
// 1e-12: ViTConfig's default, which transformers' DINO conversion leaves in
// place. The weights were trained, and DINO evaluates them, with 1e-6
// (facebookresearch/dino vision_transformer.py: partial(nn.LayerNorm,
// eps=1e-6)), so the original model wins over the converted config there; a
// config that sets any other eps is taken as written. (load_dino_vit_folder
// alone, the parity path, follows the file, as its reference vectors do.)
VitConfig dino_metric_config(VitConfig config) {
  constexpr double kViTConfigDefaultEps = 1e-12, kDinoEps = 1e-6;
  if (config.layer_norm_eps == kViTConfigDefaultEps) config.layer_norm_eps = kDinoEps;
  return config;
}

// A trained builtin's asset folder; its weights must have been shipped.
fs::path trained_builtin_folder(const std::string& spec, const std::string& asset, const std::string& component) {
  const fs::path folder = asset_path(asset);
  if (!fs::is_regular_file(folder / "model.safetensors"))
    throw InputError(spec + ": its weights " + (folder / "model.safetensors").string() +
                     " are missing from this checkout; make them with `pbench pretrain " + component +
                     "` and copy <out>/" + asset + "/model.safetensors there (docs/mini_world.md)");
  return folder;
}

// DINO's 256/224 resize-then-crop ratio at the model's own image size.
int64_t dino_resize_short(int64_t image_size) { return std::lround(double(image_size) * 256.0 / 224.0); }

}  // namespace

std::string builtin_backbone_note() {
  return "computed with builtin backbones (builtin:tiny-clip / builtin:tiny-dino, random weights): pipeline checks, "
         "not comparable to published numbers";
}

torch::Tensor ClipBackbone::encode_images(const torch::Tensor& images_u8) const {
  torch::NoGradGuard no_grad;
  return vision->forward(clip_preprocess(images_u8, preprocess)).image_embeds;
}

torch::Tensor ClipBackbone::encode_texts(const std::vector<std::string>& prompts) const {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows;
  for (const auto& p : prompts) rows.push_back(torch::tensor(tokenizer->encode(p).input_ids));
  if (rows.empty()) return torch::empty({0, text->config.projection_dim});
  return text->forward(torch::stack(rows)).text_embeds;
}

torch::Tensor DinoBackbone::encode_images(const torch::Tensor& images_u8) const {
  torch::NoGradGuard no_grad;
  return model->forward(dino_eval_preprocess(images_u8, resize_short, crop)).cls;
}

ClipBackbone load_clip_backbone(const std::string& spec) {
  ClipBackbone b;
  b.source = spec;
  b.builtin = spec == kBuiltinTinyClip;
  const bool mini = spec == kBuiltinMiniClip;
  if (!b.builtin && !mini && spec.rfind("builtin:", 0) == 0)
    throw InputError(spec + ": unknown builtin CLIP backbone; expected " + kClipLayout);
  b.config_folder = b.builtin ? asset_path("builtin_tiny_clip")
                    : mini    ? trained_builtin_folder(spec, "builtin_mini_clip", "metric-clip")
                              : fs::path(spec);
  b.tokenizer_folder = b.builtin || mini ? asset_path("clip_tokenizer") : fs::path(spec);
  if (!b.builtin) require_weights(b.config_folder, kClipLayout);
  JsonSection root = read_json_section(config_file_of(b.config_folder));
  if (detect_model_kind(root) != HfModelKind::kClipModel)
    root.fail("model_type", std::string("a CLIPModel config (clip): the metrics need both towers; ") + kClipLayout);
  b.tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(b.tokenizer_folder));
  b.preprocess = read_clip_image_processor(b.config_folder / "preprocessor_config.json");
  if (b.builtin) {
    b.text = ClipTextModel(clip_text_config_of(root));
    b.vision = ClipVisionModel(clip_vision_config_of(root));
    deterministic_init(*b.text, derive_seed(0, "builtin:tiny-clip/text"), "builtin:tiny-clip text");
    deterministic_init(*b.vision, derive_seed(0, "builtin:tiny-clip/vision"), "builtin:tiny-clip vision");
  } else {
    b.text = load_clip_text_folder(b.config_folder);
    b.vision = load_clip_vision_folder(b.config_folder);
  }
  b.text->eval();
  b.vision->eval();
  return b;
}

DinoBackbone load_dino_backbone(const std::string& spec) {
  DinoBackbone b;
  b.source = spec;
  b.builtin = spec == kBuiltinTinyDino;
  const bool mini = spec == kBuiltinMiniDino;
  if (!b.builtin && !mini && spec.rfind("builtin:", 0) == 0)
    throw InputError(spec + ": unknown builtin DINO backbone; expected " + kDinoLayout);
  b.config_folder = b.builtin ? asset_path("builtin_tiny_dino")
                    : mini    ? trained_builtin_folder(spec, "builtin_mini_dino", "dino")
                              : fs::path(spec);
  if (!b.builtin) require_weights(b.config_folder, kDinoLayout);
  JsonSection root = read_json_section(config_file_of(b.config_folder));
  if (detect_model_kind(root) != HfModelKind::kVit) root.fail("model_type", "expected a ViT config (vit)");
  const VitConfig config = dino_metric_config(parse_vit_config(root));
  if (b.builtin) {
    b.model = DinoVitModel(config);
    deterministic_init(*b.model, derive_seed(0, "builtin:tiny-dino"), "builtin:tiny-dino");
  } else {
    b.model = load_dino_vit_folder(b.config_folder, config);
  }
  b.model->eval();
  b.crop = b.model->config.image_size;
  b.resize_short = dino_resize_short(b.crop);
  return b;
}

}  // namespace pbench::models
