#pragma once
// UNet2DConditionModel (diffusers v0.25.1), config-driven. Module names equal
// the diffusers state-dict keys, so weights load by name
// (load_into_module(unet, load_safetensors(file), file)).
#include <torch/torch.h>

#include <map>

#include "framework/models/sd/unet_blocks.hpp"
#include "framework/models/sd/unet_config.hpp"

namespace pbench::models {

// CrossAttnDownBlock2D / DownBlock2D: resnets (+ attentions), optional downsampler.
class UNetDownBlockImpl : public torch::nn::Module {
 public:
  UNetDownBlockImpl(const UNetConfig& config, size_t index, const torch::TensorOptions& options = {});
  // Returns the block's output and appends every skip tensor to `skips`.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                        const torch::Tensor& context_mask, std::vector<torch::Tensor>& skips);

 private:
  torch::nn::ModuleList resnets_{nullptr}, attentions_{nullptr}, downsamplers_{nullptr};
};
TORCH_MODULE(UNetDownBlock);

// UNetMidBlock2DCrossAttn: resnet, then (attention, resnet) pairs.
class UNetMidBlockImpl : public torch::nn::Module {
 public:
  explicit UNetMidBlockImpl(const UNetConfig& config, const torch::TensorOptions& options = {});
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                        const torch::Tensor& context_mask);

 private:
  torch::nn::ModuleList resnets_{nullptr}, attentions_{nullptr};
};
TORCH_MODULE(UNetMidBlock);

// CrossAttnUpBlock2D / UpBlock2D: each resnet takes the concatenated skip.
class UNetUpBlockImpl : public torch::nn::Module {
 public:
  UNetUpBlockImpl(const UNetConfig& config, size_t index, const torch::TensorOptions& options = {});
  // Pops its skips from the back of `skips`; `upsample_size` is the next
  // skip's spatial size (diffusers passes it for odd latent sizes).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                        const torch::Tensor& context_mask, std::vector<torch::Tensor>& skips);
  size_t num_resnets() const { return resnets_->size(); }

 private:
  torch::nn::ModuleList resnets_{nullptr}, attentions_{nullptr}, upsamplers_{nullptr};
};
TORCH_MODULE(UNetUpBlock);

class UNet2DConditionImpl : public torch::nn::Module {
 public:
  // options: dtype/device of the parameters; torch::kMeta builds shapes only.
  explicit UNet2DConditionImpl(const UNetConfig& config, const torch::TensorOptions& options = {});

  // sample [B, C, H, W]; timestep: 0-d, [1] or [B] (int or float, broadcast
  // to the batch); context [B, T, cross_attention_dim], or [L, B, T,
  // cross_attention_dim] with one context per cross-attention layer in forward
  // order (L = num_cross_attention_layers(); P+, arXiv 2303.09522); context_mask optional
  // [B, T] with 1 keep / 0 discard. When `trace` is given, intermediate
  // activations are stored under diffusers-like names (time_proj,
  // time_embedding, conv_in, down_blocks.i, mid_block, up_blocks.i).
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timestep, const torch::Tensor& context,
                        const torch::Tensor& context_mask = {},
                        std::map<std::string, torch::Tensor>* trace = nullptr);

  const UNetConfig& config() const { return config_; }
  // The transformer blocks' cross-attentions (`…transformer_blocks.k.attn2`) in
  // the order the forward pass runs them: down blocks, mid block, up blocks
  // (16 on SD v1.5). Index i of a [L, B, T, D] context conditions name i.
  const std::vector<std::string>& cross_attention_layers() const { return cross_attention_layers_; }
  int64_t num_cross_attention_layers() const { return int64_t(cross_attention_layers_.size()); }

 private:
  UNetConfig config_;
  pbench::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  TimestepEmbedding time_embedding_{nullptr};
  torch::nn::ModuleList down_blocks_{nullptr}, up_blocks_{nullptr};
  UNetMidBlock mid_block_{nullptr};
  pbench::nn::GroupNorm conv_norm_out_{nullptr};
  std::vector<std::string> cross_attention_layers_;
};
TORCH_MODULE(UNet2DCondition);

}  // namespace pbench::models
