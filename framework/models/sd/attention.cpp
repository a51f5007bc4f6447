#include "framework/models/sd/attention.hpp"

namespace pbench::models {

namespace {
// [B, S, heads*d] -> [B*heads, S, d] (batch-major, like diffusers' head_to_batch_dim).
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  const int64_t b = x.size(0), s = x.size(1), d = x.size(2) / heads;
  return x.reshape({b, s, heads, d}).permute({0, 2, 1, 3}).reshape({b * heads, s, d});
}
// Inverse of split_heads.
torch::Tensor merge_heads(const torch::Tensor& x, int64_t heads) {
  const int64_t bh = x.size(0), s = x.size(1), d = x.size(2);
  return x.reshape({bh / heads, heads, s, d}).permute({0, 2, 1, 3}).reshape({bh / heads, s, heads * d});
}
}  // namespace

torch::Tensor attention_probabilities(const torch::Tensor& q, const torch::Tensor& k, double scale,
                                      const torch::Tensor& additive_mask) {
  // The reference computes baddbmm(mask, q, k^T, beta=1, alpha=scale) = mask + scale * (q k^T).
  torch::Tensor scores = torch::bmm(q, k.transpose(1, 2)) * scale;
  if (additive_mask.defined()) scores = scores + additive_mask;
  return scores.softmax(-1);
}

torch::Tensor scaled_dot_product_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                           double scale, const torch::Tensor& additive_mask) {
  return torch::bmm(attention_probabilities(q, k, scale, additive_mask), v);
}

AttentionImpl::AttentionImpl(const AttentionOptions& options, const torch::TensorOptions& to) : options_(options) {
  const int64_t inner = options.heads * options.head_dim;
  const int64_t context_dim = options.context_dim > 0 ? options.context_dim : options.query_dim;
  if (options.group_norm_groups > 0)
    group_norm_ = register_module(
        "group_norm", pbench::nn::GroupNorm(torch::nn::GroupNormOptions(options.group_norm_groups, options.query_dim)
                                               .eps(options.group_norm_eps), to));
  to_q_ = register_module("to_q", pbench::nn::Linear(torch::nn::LinearOptions(options.query_dim, inner).bias(options.qkv_bias), to));
  to_k_ = register_module("to_k", pbench::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(options.qkv_bias), to));
  to_v_ = register_module("to_v", pbench::nn::Linear(torch::nn::LinearOptions(context_dim, inner).bias(options.qkv_bias), to));
  // diffusers keeps to_out = [Linear, Dropout]; only index 0 holds weights.
  torch::nn::ModuleList to_out;
  to_out_0_ = pbench::nn::Linear(torch::nn::LinearOptions(inner, options.query_dim).bias(options.out_bias), to);
  to_out->push_back(to_out_0_);
  register_module("to_out", to_out);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& input, const torch::Tensor& context,
                                     const torch::Tensor& additive_mask) {
  const bool spatial = input.dim() == 4;
  int64_t b = input.size(0), c = input.size(1), h = 1, w = 1;
  torch::Tensor x = input;
  if (spatial) {
    h = input.size(2);
    w = input.size(3);
    x = input.view({b, c, h * w}).transpose(1, 2);
  }
  if (group_norm_) x = group_norm_(x.transpose(1, 2)).transpose(1, 2);

  const torch::Tensor& kv_source = context.defined() ? context : x;
  const int64_t heads = options_.heads;
  torch::Tensor q = split_heads(to_q_(x), heads);
  torch::Tensor k = to_k_(kv_source), v = to_v_(kv_source), mask = additive_mask;
  prepend_prefix(k, v, mask);
  k = split_heads(k, heads);
  v = split_heads(v, heads);
  if (mask.defined()) mask = mask.repeat_interleave(heads, 0);
  const double scale = 1.0 / std::sqrt(double(options_.head_dim));
  torch::Tensor attended = controller_ ? torch::bmm(controller_->control(attention_probabilities(q, k, scale, mask), heads, site_), v)
                                      : scaled_dot_product_attention(q, k, v, scale, mask);
  torch::Tensor out = to_out_0_(merge_heads(attended, heads));

  if (spatial) out = out.transpose(-1, -2).reshape({b, c, h, w});
  if (options_.residual_connection) out = out + input;
  if (options_.rescale_output_factor != 1.0) out = out / options_.rescale_output_factor;
  return out;
}

}  // namespace pbench::models
