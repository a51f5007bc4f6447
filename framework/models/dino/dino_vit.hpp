#pragma once
// DINO ViT in Hugging Face `ViTModel` naming (without pooler, as
// facebook/dino-vits16 is converted): `embeddings.{cls_token,
// position_embeddings, patch_embeddings.projection}`, `encoder.layer.<i>.
// {layernorm_before, attention.attention.{query,key,value},
// attention.output.dense, layernorm_after, intermediate.dense, output.dense}`,
// final `layernorm`. The DINO embedding is the CLS token after that LayerNorm.
#include <vector>

#include <torch/torch.h>

#include "framework/models/transformer_blocks.hpp"

namespace pbench::models {

struct VitConfig {
  int64_t hidden_size = 768;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t intermediate_size = 3072;
  Activation act = Activation::kGelu;
  double layer_norm_eps = 1e-12;
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t num_channels = 3;
  bool qkv_bias = true;
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};

// A ViTConfig object (transformers defaults for absent keys).
VitConfig parse_vit_config(const JsonSection& section);

struct DinoVitOutput {
  torch::Tensor last_hidden_state;           // [B, 1+N, D] final layernorm(encoder output)
  torch::Tensor cls;                         // [B, D] last_hidden_state[:, 0], the DINO embedding
  std::vector<torch::Tensor> hidden_states;  // embeddings, then each layer's output (before layernorm)
};

class VitPatchEmbeddingsImpl : public torch::nn::Module {
 public:
  VitPatchEmbeddingsImpl(const VitConfig& c, const torch::TensorOptions& options);
  PatchConv projection{nullptr};
};
TORCH_MODULE(VitPatchEmbeddings);

class VitEmbeddingsImpl : public torch::nn::Module {
 public:
  VitEmbeddingsImpl(const VitConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& pixel_values) const;
  torch::Tensor cls_token;            // [1, 1, D]
  torch::Tensor position_embeddings;  // [1, 1+N, D]
  VitPatchEmbeddings patch_embeddings{nullptr};
};
TORCH_MODULE(VitEmbeddings);

class VitSelfAttentionImpl : public torch::nn::Module {
 public:
  VitSelfAttentionImpl(const VitConfig& c, const torch::TensorOptions& options);
  Linear query{nullptr}, key{nullptr}, value{nullptr};
};
TORCH_MODULE(VitSelfAttention);

// Holds a single `dense` Linear: HF's ViTSelfOutput / ViTIntermediate / ViTOutput.
class VitDenseImpl : public torch::nn::Module {
 public:
  VitDenseImpl(int64_t in, int64_t out, const torch::TensorOptions& options);
  Linear dense{nullptr};
};
TORCH_MODULE(VitDense);

class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(const VitConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x) const;
  VitSelfAttention attention{nullptr};
  VitDense output{nullptr};
  int64_t heads;
};
TORCH_MODULE(VitAttention);

class VitLayerImpl : public torch::nn::Module {
 public:
  VitLayerImpl(const VitConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x) const;
  LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};
  VitAttention attention{nullptr};
  VitDense intermediate{nullptr}, output{nullptr};
  Activation act;
};
TORCH_MODULE(VitLayer);

class VitEncoderImpl : public torch::nn::Module {
 public:
  VitEncoderImpl(const VitConfig& c, const torch::TensorOptions& options);
  torch::nn::ModuleList layer{nullptr};
  std::vector<VitLayer> layers;
};
TORCH_MODULE(VitEncoder);

class DinoVitModelImpl : public torch::nn::Module {
 public:
  explicit DinoVitModelImpl(const VitConfig& c, const torch::TensorOptions& options = torch::kFloat32);
  // pixel_values [B, C, image_size, image_size] (ImageNet-normalised).
  DinoVitOutput forward(const torch::Tensor& pixel_values) const;

  VitConfig config;
  VitEmbeddings embeddings{nullptr};
  VitEncoder encoder{nullptr};
  LayerNorm layernorm{nullptr};
};
TORCH_MODULE(DinoVitModel);

}  // namespace pbench::models
