#include "framework/models/dino/dino_vit.hpp"

#include "framework/models/clip/clip_vision.hpp"

namespace pbench::models {

VitConfig parse_vit_config(const JsonSection& s) {
  VitConfig c;
  c.hidden_size = s.get_positive("hidden_size", c.hidden_size);
  c.num_layers = s.get_positive("num_hidden_layers", c.num_layers);
  c.num_heads = s.get_positive("num_attention_heads", c.num_heads);
  c.intermediate_size = s.get_positive("intermediate_size", c.intermediate_size);
  c.act = parse_activation(s, "hidden_act", "gelu");
  c.layer_norm_eps = s.get_double("layer_norm_eps", c.layer_norm_eps);
  if (!(c.layer_norm_eps > 0)) s.fail("layer_norm_eps", "expected a positive number");
  c.image_size = s.get_positive("image_size", c.image_size);
  c.patch_size = s.get_positive("patch_size", c.patch_size);
  c.num_channels = s.get_positive("num_channels", c.num_channels);
  c.qkv_bias = s.get_bool("qkv_bias", c.qkv_bias);
  check_heads(s, c.hidden_size, c.num_heads);
  if (c.image_size % c.patch_size != 0)
    s.fail("patch_size", "image_size " + std::to_string(c.image_size) + " is not a multiple of patch_size " +
                             std::to_string(c.patch_size));
  return c;
}

VitPatchEmbeddingsImpl::VitPatchEmbeddingsImpl(const VitConfig& c, const torch::TensorOptions& o) {
  projection = register_module("projection", PatchConv(c.num_channels, c.hidden_size, c.patch_size, true, o));
}

VitEmbeddingsImpl::VitEmbeddingsImpl(const VitConfig& c, const torch::TensorOptions& o) {
  const int64_t d = c.hidden_size;
  cls_token = register_parameter("cls_token", torch::empty({1, 1, d}, o));
  position_embeddings = register_parameter("position_embeddings", torch::empty({1, c.num_patches() + 1, d}, o));
  if (holds_data(o)) {
    torch::NoGradGuard no_grad;
    cls_token.normal_(0.0, 0.02);
    position_embeddings.normal_(0.0, 0.02);
  }
  patch_embeddings = register_module("patch_embeddings", VitPatchEmbeddings(c, o));
}

torch::Tensor VitEmbeddingsImpl::forward(const torch::Tensor& pixel_values) const {
  torch::Tensor patches = patch_embeddings->projection->forward(pixel_values);
  torch::Tensor cls = cls_token.expand({patches.size(0), 1, -1});
  // Input size equals the config's image_size (checked by the caller), so the
  // position table is used as-is: no interpolation.
  return torch::cat({cls, patches}, 1) + position_embeddings;
}

VitSelfAttentionImpl::VitSelfAttentionImpl(const VitConfig& c, const torch::TensorOptions& o) {
  const int64_t d = c.hidden_size;
  query = register_module("query", Linear(d, d, c.qkv_bias, o));
  key = register_module("key", Linear(d, d, c.qkv_bias, o));
  value = register_module("value", Linear(d, d, c.qkv_bias, o));
}

VitDenseImpl::VitDenseImpl(int64_t in, int64_t out, const torch::TensorOptions& o) {
  dense = register_module("dense", Linear(in, out, true, o));
}

VitAttentionImpl::VitAttentionImpl(const VitConfig& c, const torch::TensorOptions& o) : heads(c.num_heads) {
  attention = register_module("attention", VitSelfAttention(c, o));
  output = register_module("output", VitDense(c.hidden_size, c.hidden_size, o));
}

torch::Tensor VitAttentionImpl::forward(const torch::Tensor& x) const {
  torch::Tensor ctx = multi_head_attention(attention->query->forward(x), attention->key->forward(x),
                                           attention->value->forward(x), heads);
  return output->dense->forward(ctx);
}

VitLayerImpl::VitLayerImpl(const VitConfig& c, const torch::TensorOptions& o) : act(c.act) {
  attention = register_module("attention", VitAttention(c, o));
  intermediate = register_module("intermediate", VitDense(c.hidden_size, c.intermediate_size, o));
  output = register_module("output", VitDense(c.intermediate_size, c.hidden_size, o));
  layernorm_before = register_module("layernorm_before", LayerNorm(c.hidden_size, c.layer_norm_eps, o));
  layernorm_after = register_module("layernorm_after", LayerNorm(c.hidden_size, c.layer_norm_eps, o));
}

torch::Tensor VitLayerImpl::forward(const torch::Tensor& x) const {
  torch::Tensor h = x + attention->forward(layernorm_before->forward(x));
  return h + output->dense->forward(apply_activation(act, intermediate->dense->forward(layernorm_after->forward(h))));
}

VitEncoderImpl::VitEncoderImpl(const VitConfig& c, const torch::TensorOptions& o) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    layers.push_back(VitLayer(c, o));
    layer->push_back(layers.back());
  }
}

DinoVitModelImpl::DinoVitModelImpl(const VitConfig& c, const torch::TensorOptions& o) : config(c) {
  embeddings = register_module("embeddings", VitEmbeddings(c, o));
  encoder = register_module("encoder", VitEncoder(c, o));
  layernorm = register_module("layernorm", LayerNorm(c.hidden_size, c.layer_norm_eps, o));
}

DinoVitOutput DinoVitModelImpl::forward(const torch::Tensor& pixel_values) const {
  check_pixel_values(pixel_values, config.num_channels, config.image_size);
  DinoVitOutput out;
  torch::Tensor h = embeddings->forward(pixel_values);
  out.hidden_states.push_back(h);
  for (const auto& layer : encoder->layers) {
    h = layer->forward(h);
    out.hidden_states.push_back(h);
  }
  out.last_hidden_state = layernorm->forward(h);
  out.cls = out.last_hidden_state.select(1, 0);
  return out;
}

}  // namespace pbench::models
