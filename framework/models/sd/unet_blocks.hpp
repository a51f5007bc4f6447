#pragma once
// Building blocks shared by the UNet and the VAE (diffusers v0.25.1
// resnet.py, attention.py, transformer_2d.py, embeddings.py), with
// parameter names as in diffusers state dicts. Every constructor takes
// optional TensorOptions passed to its layers (kMeta: shapes only, no init).
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "framework/tensor/adaptable_layers.hpp"

#include "framework/models/sd/attention.hpp"

namespace pbench::models {

struct ResnetOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t temb_channels = 0;  // 0: no time_emb_proj (VAE)
  int64_t groups = 32;
  double eps = 1e-6;
  double output_scale_factor = 1.0;
};

// norm1 -> silu -> conv1 (+ time_emb_proj(silu(temb))) -> norm2 -> silu -> conv2,
// plus the input (through a 1x1 conv_shortcut when channels change).
class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  explicit ResnetBlock2DImpl(const ResnetOptions& options, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& temb = {});

 private:
  ResnetOptions options_;
  pbench::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  pbench::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv_shortcut_{nullptr};
  pbench::nn::Linear time_emb_proj_{nullptr};
};
TORCH_MODULE(ResnetBlock2D);

// 3x3 stride-2 conv. padding 0 means diffusers' asymmetric (0,1,0,1) zero pad
// first (the VAE encoder); otherwise symmetric padding.
class Downsample2DImpl : public torch::nn::Module {
 public:
  Downsample2DImpl(int64_t channels, int64_t padding, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t padding_;
  pbench::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Downsample2D);

// Nearest 2x upsampling (or to `size` when given) then a 3x3 conv.
class Upsample2DImpl : public torch::nn::Module {
 public:
  explicit Upsample2DImpl(int64_t channels, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& x, c10::optional<std::vector<int64_t>> size = c10::nullopt);

 private:
  pbench::nn::Conv2d conv_{nullptr};
};
TORCH_MODULE(Upsample2D);

// GEGLU feed-forward: net.0.proj (dim -> 2*inner), hidden * gelu(gate), net.2 (inner -> dim).
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t inner_dim, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  pbench::nn::Linear proj_{nullptr}, out_{nullptr};
};
TORCH_MODULE(FeedForward);

struct TransformerOptions {
  int64_t channels = 0;  // in_channels == out_channels of Transformer2DModel
  int64_t heads = 8;
  int64_t head_dim = 0;
  int64_t context_dim = 0;
  int64_t layers = 1;
  int64_t norm_groups = 32;
  bool use_linear_projection = false;
  bool only_cross_attention = false;
};

// norm1 -> attn1 (self, or cross when only_cross_attention), norm2 -> attn2
// (cross), norm3 -> ff; each residual.
// A residual-stream seam of BasicTransformerBlock: a hook adds its update to
// the block's hidden states after the cross-attention's residual add and
// before norm3, so the update passes through norm3 *and* the feed-forward's
// skip path (Closer-Look's FFN_in, arXiv 2303.18181; the seam DisenBooth's and
// InstantBooth's adapters will use). A hook is registered as a child module of
// the block (its parameters belong to the UNet like any attached parameterization).
class ResidualHook : public torch::nn::Module {
 public:
  // hidden: the residual stream [B, T, C] at the hook; returns what is added to it.
  virtual torch::Tensor residual_update(const torch::Tensor& hidden) = 0;
};

class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  explicit BasicTransformerBlockImpl(const TransformerOptions& options, const torch::TensorOptions& tensor_options = {});
  // context: [B, T, D] for every block, or [L, B, T, D] with one context per
  // cross-attention layer of the UNet (P+), of which this block reads its own.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& context_mask);
  // Position of this block's cross-attention among the UNet's, in forward order (set by the UNet).
  void set_cross_attention_index(int64_t index) { cross_attention_index_ = index; }
  int64_t cross_attention_index() const { return cross_attention_index_; }
  // Adds `hook` before norm3 (child module `tag`; in order of attachment). Throws if the tag is taken.
  void attach_before_feed_forward(const std::string& tag, std::shared_ptr<ResidualHook> hook);

 private:
  bool only_cross_attention_;
  std::vector<std::shared_ptr<ResidualHook>> before_feed_forward_;
  int64_t cross_attention_index_ = -1;
  pbench::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr};
  Attention attn1_{nullptr}, attn2_{nullptr};
  FeedForward ff_{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

// Transformer2DModel for continuous NCHW input: GroupNorm(eps 1e-6), proj_in
// (1x1 conv, or Linear with use_linear_projection), transformer blocks,
// proj_out, residual.
class Transformer2DImpl : public torch::nn::Module {
 public:
  explicit Transformer2DImpl(const TransformerOptions& options, const torch::TensorOptions& tensor_options = {});
  // context_mask: undefined or the additive [B, 1, T] bias.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& context_mask);

 private:
  TransformerOptions options_;
  pbench::nn::GroupNorm norm_{nullptr};
  // 1x1 convolutions, or Linear layers with use_linear_projection (exactly one pair is set).
  pbench::nn::Conv2d proj_in_conv_{nullptr}, proj_out_conv_{nullptr};
  pbench::nn::Linear proj_in_linear_{nullptr}, proj_out_linear_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
};
TORCH_MODULE(Transformer2D);

// diffusers get_timestep_embedding (max_period 10000, scale 1): [N] -> [N, dim].
torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift);

// time_embedding.linear_1 -> silu -> linear_2.
class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t dim, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& x);

 private:
  pbench::nn::Linear linear_1_{nullptr}, linear_2_{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace pbench::models
