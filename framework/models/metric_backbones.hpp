#pragma once
// The encoders behind the CLIP-I / CLIP-T / DINO metrics, loaded by spec:
// `builtin:tiny-clip` / `builtin:tiny-dino` (small, deterministic random
// weights, configs in framework/assets: PIPELINE CHECKS ONLY, their scores are
// not comparable to published numbers) or a Hugging Face folder
// (openai/clip-vit-base-patch32 layout: config.json of a CLIPModel,
// model.safetensors, preprocessor_config.json and the tokenizer files;
// facebook/dino-vits16 layout: config.json of a ViTModel, model.safetensors).
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"
#include "framework/models/image_preprocess.hpp"
#include "framework/text/clip_tokenizer.hpp"

namespace pbench::models {

constexpr const char* kBuiltinTinyClip = "builtin:tiny-clip";
constexpr const char* kBuiltinTinyDino = "builtin:tiny-dino";
// Trained on the mini world by `pbench pretrain metric-clip` / `dino`
// (docs/mini_world.md): meaningful on mini-world images, shipped as fp16 files
// under framework/assets/builtin_mini_{clip,dino}/.
constexpr const char* kBuiltinMiniClip = "builtin:mini-clip";
constexpr const char* kBuiltinMiniDino = "builtin:mini-dino";

struct ClipBackbone {
  std::string source;  // the spec it was loaded from
  bool builtin = false;  // builtin:tiny-clip, random weights (builtin:mini-clip is trained: false)
  std::shared_ptr<ClipTokenizer> tokenizer;
  ClipTextModel text{nullptr};      // with text_projection
  ClipVisionModel vision{nullptr};  // with visual_projection
  ClipImageProcessorConfig preprocess;
  // Where config.json / preprocessor_config.json / the tokenizer files were read.
  std::filesystem::path config_folder;
  std::filesystem::path tokenizer_folder;

  // uint8 RGB [H,W,3] or [N,H,W,3] -> projected image embeddings [N, P] (not normalised).
  torch::Tensor encode_images(const torch::Tensor& images_u8) const;
  // Prompts -> projected text embeddings [N, P] (not normalised), pooled at the first EOT.
  torch::Tensor encode_texts(const std::vector<std::string>& prompts) const;
};

struct DinoBackbone {
  std::string source;
  bool builtin = false;  // builtin:tiny-dino, random weights (builtin:mini-dino is trained: false)
  DinoVitModel model{nullptr};
  // DINO's evaluation transform scaled to the model: resize the short side to
  // round(image_size * 256 / 224) (bicubic), center crop image_size.
  int64_t resize_short = 0;
  int64_t crop = 0;
  std::filesystem::path config_folder;

  // uint8 RGB [H,W,3] or [N,H,W,3] -> CLS embeddings [N, D] (not normalised).
  torch::Tensor encode_images(const torch::Tensor& images_u8) const;
};

// InputError naming the spec / file when it does not load; a folder must hold
// model.safetensors (say where such weights come from otherwise).
ClipBackbone load_clip_backbone(const std::string& spec);
DinoBackbone load_dino_backbone(const std::string& spec);

// Note written into every output produced with builtin backbones.
std::string builtin_backbone_note();

}  // namespace pbench::models
