#include "framework/models/clip/clip_encoder.hpp"

namespace pbench::models {

ClipAttentionImpl::ClipAttentionImpl(const ClipEncoderConfig& c, const torch::TensorOptions& o)
    : heads(c.num_heads), hidden_(c.hidden_size) {
  const int64_t d = c.hidden_size;
  q_proj = register_module("q_proj", Linear(d, d, true, o));
  k_proj = register_module("k_proj", Linear(d, d, true, o));
  v_proj = register_module("v_proj", Linear(d, d, true, o));
  out_proj = register_module("out_proj", Linear(d, d, true, o));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) const {
  torch::Tensor k = k_proj->forward(x), v = v_proj->forward(x), mask = additive_mask;
  prepend_prefix(k, v, mask);
  torch::Tensor ctx = multi_head_attention(q_proj->forward(x), k, v, heads, mask);
  return out_proj->forward(ctx);
}

ClipMlpImpl::ClipMlpImpl(const ClipEncoderConfig& c, const torch::TensorOptions& o) : act(c.act) {
  fc1 = register_module("fc1", Linear(c.hidden_size, c.intermediate_size, true, o));
  fc2 = register_module("fc2", Linear(c.intermediate_size, c.hidden_size, true, o));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) const {
  return fc2->forward(apply_activation(act, fc1->forward(x)));
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipEncoderConfig& c, const torch::TensorOptions& o) {
  self_attn = register_module("self_attn", ClipAttention(c, o));
  layer_norm1 = register_module("layer_norm1", LayerNorm(c.hidden_size, c.layer_norm_eps, o));
  mlp = register_module("mlp", ClipMlp(c, o));
  layer_norm2 = register_module("layer_norm2", LayerNorm(c.hidden_size, c.layer_norm_eps, o));
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) const {
  torch::Tensor h = x + self_attn->forward(layer_norm1->forward(x), additive_mask);
  return h + mlp->forward(layer_norm2->forward(h));
}

ClipEncoderImpl::ClipEncoderImpl(const ClipEncoderConfig& c, const torch::TensorOptions& o) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    layer_list.push_back(ClipEncoderLayer(c, o));
    layers->push_back(layer_list.back());
  }
}

std::vector<torch::Tensor> ClipEncoderImpl::forward(torch::Tensor x, const torch::Tensor& additive_mask) const {
  std::vector<torch::Tensor> outs;
  for (const auto& layer : layer_list) {
    x = layer->forward(x, additive_mask);
    outs.push_back(x);
  }
  return outs;
}

}  // namespace pbench::models
