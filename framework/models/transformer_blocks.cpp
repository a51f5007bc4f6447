#include "framework/models/transformer_blocks.hpp"

#include <cmath>
#include <limits>

namespace pbench::models {

Activation parse_activation(const JsonSection& config, const std::string& key, const std::string& fallback) {
  std::string name = config.get_string(key, fallback);
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "gelu") return Activation::kGelu;
  // HF's gelu_new and gelu_pytorch_tanh are the same tanh approximation.
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  config.fail(key, "unsupported activation '" + name + "'; expected quick_gelu, gelu, gelu_new, gelu_pytorch_tanh or relu");
}

std::string activation_name(Activation act) {
  switch (act) {
    case Activation::kQuickGelu: return "quick_gelu";
    case Activation::kGelu: return "gelu";
    case Activation::kGeluTanh: return "gelu_pytorch_tanh";
    case Activation::kRelu: return "relu";
  }
  return "?";
}

torch::Tensor apply_activation(Activation act, const torch::Tensor& x) {
  switch (act) {
    // CLIP's QuickGELU: x * sigmoid(1.702 x), as in openai/CLIP model.py.
    case Activation::kQuickGelu: return x * torch::sigmoid(1.702 * x);
    case Activation::kGelu: return torch::gelu(x);  // exact erf form
    case Activation::kGeluTanh: return torch::gelu(x, "tanh");
    case Activation::kRelu: return torch::relu(x);
  }
  return x;
}

bool holds_data(const torch::TensorOptions& options) { return options.device().type() != torch::kMeta; }

PatchConvImpl::PatchConvImpl(int64_t channels, int64_t dim, int64_t patch_, bool with_bias,
                             const torch::TensorOptions& options)
    : patch(patch_) {
  weight = register_parameter("weight", torch::empty({dim, channels, patch, patch}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({dim}, options));
  if (holds_data(options)) {
    torch::NoGradGuard no_grad;
    double bound = 1.0 / std::sqrt(double(channels * patch * patch));
    weight.uniform_(-bound, bound);
    if (bias.defined()) bias.uniform_(-bound, bound);
  }
}

torch::Tensor PatchConvImpl::forward(const torch::Tensor& pixels) const {
  torch::Tensor y = torch::conv2d(pixels, weight, bias, /*stride=*/{patch, patch});
  return y.flatten(2).transpose(1, 2);  // [B, dim, h, w] -> [B, h*w, dim], row-major patches
}

torch::Tensor multi_head_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   int64_t heads, const torch::Tensor& additive_mask) {
  const int64_t b = q.size(0), tq = q.size(1), tk = k.size(1), d = q.size(2);
  const int64_t hd = d / heads;
  auto split = [&](const torch::Tensor& x, int64_t t) { return x.reshape({b, t, heads, hd}).transpose(1, 2); };
  // Scale q before the product, as both reference implementations do.
  torch::Tensor qh = split(q, tq) * (1.0 / std::sqrt(double(hd)));
  torch::Tensor kh = split(k, tk), vh = split(v, tk);
  torch::Tensor scores = torch::matmul(qh, kh.transpose(-2, -1));  // [B, H, Tq, Tk]
  if (additive_mask.defined()) scores = scores + additive_mask;
  torch::Tensor probs = torch::softmax(scores, -1);
  return torch::matmul(probs, vh).transpose(1, 2).reshape({b, tq, d});
}

void check_heads(const JsonSection& config, int64_t hidden, int64_t heads) {
  if (hidden % heads != 0)
    config.fail("num_attention_heads", "hidden_size " + std::to_string(hidden) + " is not divisible by " +
                                           std::to_string(heads) + " heads");
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace pbench::models
