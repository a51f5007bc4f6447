#pragma once
// Building blocks shared by the CLIP towers and the DINO ViT: parameter-owning
// layers whose tensors are created with caller-given TensorOptions, so that the
// same module tree can be built on the `meta` device (shapes only, no memory)
// to count the parameters of full-size models from their config alone, and on
// the CPU to run. Parameter names follow torch.nn (`weight`, `bias`) so module
// trees match Hugging Face checkpoints key for key.
#include <string>

#include <torch/torch.h>

#include "framework/models/hf/hf_config.hpp"
#include "framework/tensor/adaptable_layers.hpp"

namespace pbench::models {

// The activations Hugging Face configs name in `hidden_act`.
enum class Activation { kQuickGelu, kGelu, kGeluTanh, kRelu };

// Reads `hidden_act` (fallback if absent); InputError naming file and key for
// a value not implemented here.
Activation parse_activation(const JsonSection& config, const std::string& key, const std::string& fallback);
std::string activation_name(Activation act);
torch::Tensor apply_activation(Activation act, const torch::Tensor& x);

// Random initialisation is skipped on the meta device (there is no data).
bool holds_data(const torch::TensorOptions& options);

// Linear, LayerNorm and Embedding are the project's adaptable layers, so that
// methods can attach parameterizations to the text encoder like to the UNet.
using Linear = pbench::nn::Linear;
using LayerNorm = pbench::nn::LayerNorm;
using Embedding = pbench::nn::Embedding;

// Non-overlapping patch projection: a Conv2d with kernel = stride = patch.
class PatchConvImpl : public torch::nn::Module {
 public:
  PatchConvImpl(int64_t channels, int64_t dim, int64_t patch, bool bias, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& pixels) const;  // [B,C,H,W] -> [B, H/p*W/p, dim]
  torch::Tensor weight, bias;
  int64_t patch;
};
TORCH_MODULE(PatchConv);

// Scaled dot-product attention on already projected q, k, v [B, T, D] split
// into `heads`. `additive_mask` is undefined or broadcastable to [B, heads,
// Tq, Tk] (0 = attend, lowest float = masked). Returns [B, Tq, D].
torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int64_t heads, const torch::Tensor& additive_mask = {});

// Checks that `hidden` splits evenly into `heads` (InputError naming the key).
void check_heads(const JsonSection& config, int64_t hidden, int64_t heads);

// Total element count of a module's parameters (buffers excluded).
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace pbench::models
