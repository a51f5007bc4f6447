#pragma once
// The pre-LayerNorm transformer encoder of both CLIP towers, in Hugging Face
// naming: `layers.<i>.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2,
// mlp.fc1, mlp.fc2}`. Each layer: x += attn(ln1(x)); x += mlp(ln2(x)).
#include <vector>

#include <torch/torch.h>

#include "framework/models/sd/kv_prefix.hpp"
#include "framework/models/transformer_blocks.hpp"

namespace pbench::models {

struct ClipEncoderConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  double layer_norm_eps = 1e-5;
  Activation act = Activation::kQuickGelu;
};

class ClipAttentionImpl : public torch::nn::Module, public PrefixableAttention {
 public:
  ClipAttentionImpl(const ClipEncoderConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) const;
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  int64_t heads;

  int64_t key_value_dim() const override { return hidden_; }
  int64_t key_value_source_dim() const override { return hidden_; }
  std::pair<torch::Tensor, torch::Tensor> project_key_value(const torch::Tensor& source) override {
    return {k_proj->forward(source), v_proj->forward(source)};
  }

 protected:
  torch::nn::Module& prefix_owner() override { return *this; }

 private:
  int64_t hidden_;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
 public:
  ClipMlpImpl(const ClipEncoderConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x) const;
  Linear fc1{nullptr}, fc2{nullptr};
  Activation act;
};
TORCH_MODULE(ClipMlp);

class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  ClipEncoderLayerImpl(const ClipEncoderConfig& c, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) const;
  ClipAttention self_attn{nullptr};
  LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipEncoderImpl : public torch::nn::Module {
 public:
  ClipEncoderImpl(const ClipEncoderConfig& c, const torch::TensorOptions& options);
  // Returns the output of every layer (hidden_states[1..N] in HF terms).
  std::vector<torch::Tensor> forward(torch::Tensor x, const torch::Tensor& additive_mask) const;
  torch::nn::ModuleList layers{nullptr};
  std::vector<ClipEncoderLayer> layer_list;
};
TORCH_MODULE(ClipEncoder);

}  // namespace pbench::models
