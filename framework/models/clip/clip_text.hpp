#pragma once
// Hugging Face CLIPTextModel / CLIPTextModelWithProjection on LibTorch.
// Parameter keys equal the checkpoint keys: `text_model.embeddings.
// {token_embedding,position_embedding}.weight`, buffer `text_model.embeddings.
// position_ids`, `text_model.encoder.layers.<i>...`, `text_model.
// final_layer_norm`, and `text_projection.weight` when projecting.
#include <vector>

#include <torch/torch.h>

#include "framework/models/clip/clip_config.hpp"

namespace pbench::models {

struct ClipTextOutput {
  torch::Tensor last_hidden_state;           // [B, T, D] final_layer_norm(encoder output)
  torch::Tensor pooler_output;               // [B, D] at the first EOT of each row
  torch::Tensor text_embeds;                 // [B, P] text_projection(pooled); undefined without projection
  std::vector<torch::Tensor> hidden_states;  // embeddings, then each layer's output
};

class ClipTextEmbeddingsImpl : public torch::nn::Module {
 public:
  ClipTextEmbeddingsImpl(const ClipTextConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& input_ids) const;
  Embedding token_embedding{nullptr}, position_embedding{nullptr};
  torch::Tensor position_ids;  // buffer [1, max_positions], as stored by older HF checkpoints
};
TORCH_MODULE(ClipTextEmbeddings);

class ClipTextTransformerImpl : public torch::nn::Module {
 public:
  ClipTextTransformerImpl(const ClipTextConfig& c, const torch::TensorOptions& options);
  ClipTextEmbeddings embeddings{nullptr};
  ClipEncoder encoder{nullptr};
  LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

class ClipTextModelImpl : public torch::nn::Module {
 public:
  explicit ClipTextModelImpl(const ClipTextConfig& c, const torch::TensorOptions& options = torch::kFloat32);
  // input_ids [B, T<=max_positions] int64; attention_mask [B, T] (1 = token,
  // 0 = padding) optional: padded keys are masked on top of the causal mask.
  ClipTextOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {}) const;

  ClipTextConfig config;
  ClipTextTransformer text_model{nullptr};
  Linear text_projection{nullptr};  // null without projection
};
TORCH_MODULE(ClipTextModel);

// Index of the first `eot_id` in each row of ids [B, T] -> int64 [B];
// InputError for a row without one (its pooled output would be undefined).
torch::Tensor first_eot_positions(const torch::Tensor& input_ids, int64_t eot_id);

}  // namespace pbench::models
