#pragma once
// Hugging Face CLIPVisionModel / CLIPVisionModelWithProjection on LibTorch.
// Keys: `vision_model.embeddings.{class_embedding, patch_embedding.weight,
// position_embedding.weight}`, buffer `vision_model.embeddings.position_ids`,
// `vision_model.pre_layrnorm` (sic, HF spelling), `vision_model.encoder...`,
// `vision_model.post_layernorm`, and `visual_projection.weight`.
#include <vector>

#include <torch/torch.h>

#include "framework/models/clip/clip_config.hpp"

namespace pbench::models {

struct ClipVisionOutput {
  torch::Tensor last_hidden_state;           // [B, 1+N, D] encoder output (no post_layernorm)
  torch::Tensor pooler_output;               // [B, D] post_layernorm(class token)
  torch::Tensor image_embeds;                // [B, P] visual_projection(pooled); undefined without projection
  std::vector<torch::Tensor> hidden_states;  // pre_layrnorm(embeddings), then each layer's output
};

class ClipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  ClipVisionEmbeddingsImpl(const ClipVisionConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& pixel_values) const;  // -> [B, 1+N, D]
  torch::Tensor class_embedding;  // [D]
  PatchConv patch_embedding{nullptr};
  Embedding position_embedding{nullptr};
  torch::Tensor position_ids;  // buffer [1, 1+N]
};
TORCH_MODULE(ClipVisionEmbeddings);

class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  ClipVisionTransformerImpl(const ClipVisionConfig& c, const torch::TensorOptions& options);
  ClipVisionEmbeddings embeddings{nullptr};
  LayerNorm pre_layrnorm{nullptr};
  ClipEncoder encoder{nullptr};
  LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionTransformer);

class ClipVisionModelImpl : public torch::nn::Module {
 public:
  explicit ClipVisionModelImpl(const ClipVisionConfig& c, const torch::TensorOptions& options = torch::kFloat32);
  // pixel_values [B, C, image_size, image_size] float, already normalised.
  ClipVisionOutput forward(const torch::Tensor& pixel_values) const;

  ClipVisionConfig config;
  ClipVisionTransformer vision_model{nullptr};
  Linear visual_projection{nullptr};  // null without projection
};
TORCH_MODULE(ClipVisionModel);

// InputError unless pixel_values is float [B, channels, size, size].
void check_pixel_values(const torch::Tensor& pixel_values, int64_t channels, int64_t size);

}  // namespace pbench::models
