#pragma once
// The encoders behind the metrics and their preprocessing, as the reference
// evaluators apply it (../shared/reference/evaluation.md 2.4, 3.1, 3.2):
// - CLIP: shortest side to the model's image_size (bicubic, PIL-like,
//   antialiased), center crop image_size, CLIP mean/std; image_embeds after
//   visual_projection, text_embeds after text_projection.
// - DINO: shortest side to round(image_size * 256 / 224) bicubic, center crop
//   image_size, ImageNet mean/std; the CLS token after the final LayerNorm.
// For the reference sizes (224) that is exactly 224/224 and 256/224; smaller
// backbones (builtin:tiny-clip/-dino) keep the same ratios.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"
#include "framework/models/image_preprocess.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/text/clip_tokenizer.hpp"

namespace pbench::metrics {

// The backbones as framework/models/metric_backbones.hpp loads them
// (`source` is what the run file records; the metrics read source, tokenizer,
// text, vision and preprocess of CLIP, and source and model of DINO).
using ClipBackbone = models::ClipBackbone;
using DinoBackbone = models::DinoBackbone;

// The CLIP protocol at `image_size` (224 -> OpenAI's _transform(224)).
models::ClipImageProcessorConfig clip_metric_preprocess(int64_t image_size);

struct DinoGeometry {
  int64_t resize_short = 256;
  int64_t crop = 224;
};
// Resize 256 / crop 224 scaled to `image_size`.
DinoGeometry dino_metric_geometry(int64_t image_size);

// Images uint8 [N, H, W, 3] (any size, square or not) -> float32 [N, P].
// Encoded in chunks of `chunk` images to bound memory.
torch::Tensor clip_image_embeddings(const ClipBackbone& clip, const torch::Tensor& images_u8, int64_t chunk = 32);
// Prompts -> text_embeds float32 [N, P] (pooled at the first EOT).
torch::Tensor clip_text_embeddings(const ClipBackbone& clip, const std::vector<std::string>& prompts);
// Images uint8 [N, H, W, 3] -> CLS features float32 [N, D].
torch::Tensor dino_embeddings(const DinoBackbone& dino, const torch::Tensor& images_u8, int64_t chunk = 32);

}  // namespace pbench::metrics
