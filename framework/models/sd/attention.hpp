#pragma once
// diffusers' `Attention` module (attention_processor.py, AttnProcessor path) for
// the UNet's transformer blocks and the VAE's mid-block attention. Parameter
// names follow the diffusers state dict: to_q, to_k, to_v, to_out.0 and, for
// the VAE form, group_norm.
#include <torch/torch.h>

#include "framework/models/sd/attention_control.hpp"
#include "framework/models/sd/kv_prefix.hpp"
#include "framework/tensor/adaptable_layers.hpp"

#include <optional>

namespace pbench::models {

struct AttentionOptions {
  int64_t query_dim = 0;
  int64_t context_dim = 0;  // 0: self-attention (keys/values from the query input)
  int64_t heads = 1;
  int64_t head_dim = 0;
  bool qkv_bias = false;
  bool out_bias = true;
  // VAE form: GroupNorm in front, NCHW input flattened to tokens, residual added.
  int64_t group_norm_groups = 0;  // 0: none
  double group_norm_eps = 1e-6;
  bool residual_connection = false;
  double rescale_output_factor = 1.0;
};

class AttentionImpl : public torch::nn::Module, public PrefixableAttention {
 public:
  explicit AttentionImpl(const AttentionOptions& options, const torch::TensorOptions& tensor_options = {});

  // hidden: [B, S, query_dim] or [B, C, H, W] (then flattened and restored).
  // context: [B, T, context_dim] or undefined for self-attention.
  // additive_mask: undefined, or [B, 1, T] added to the scores (broadcast over
  // queries and repeated per head like diffusers' prepare_attention_mask).
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& context = {},
                        const torch::Tensor& additive_mask = {});

  const AttentionOptions& options() const { return options_; }

  // The attention-control seam (attention_control.hpp): set_attention_controller calls this.
  void set_controller(std::shared_ptr<AttentionController> controller, AttentionSite site) {
    controller_ = std::move(controller);
    site_ = std::move(site);
  }

  int64_t key_value_dim() const override { return options_.heads * options_.head_dim; }
  int64_t key_value_source_dim() const override {
    return options_.context_dim > 0 ? options_.context_dim : options_.query_dim;
  }
  std::pair<torch::Tensor, torch::Tensor> project_key_value(const torch::Tensor& source) override {
    return {to_k_(source), to_v_(source)};
  }

 protected:
  torch::nn::Module& prefix_owner() override { return *this; }

 private:
  AttentionOptions options_;
  pbench::nn::GroupNorm group_norm_{nullptr};
  pbench::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, to_out_0_{nullptr};
  std::shared_ptr<AttentionController> controller_;
  AttentionSite site_;
};
TORCH_MODULE(Attention);

// softmax(scale * q k^T + mask) v over [B*heads, S, d] tensors. Uses matmul
// rather than baddbmm(beta=0): LibTorch 1.13 reads baddbmm's uninitialised
// input and sporadically yields NaN (TRAPS.md).
torch::Tensor scaled_dot_product_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                           double scale, const torch::Tensor& additive_mask = {});
// softmax(scale * q k^T + mask): the maps scaled_dot_product_attention multiplies v with.
torch::Tensor attention_probabilities(const torch::Tensor& q, const torch::Tensor& k, double scale,
                                      const torch::Tensor& additive_mask = {});

}  // namespace pbench::models
