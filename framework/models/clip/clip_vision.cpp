#include "framework/models/clip/clip_vision.hpp"

#include "framework/util/errors.hpp"

namespace pbench::models {

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c, const torch::TensorOptions& o) {
  const int64_t d = c.encoder.hidden_size, positions = c.num_patches() + 1;
  class_embedding = register_parameter("class_embedding", torch::empty({d}, o));
  if (holds_data(o)) {
    torch::NoGradGuard no_grad;
    class_embedding.normal_(0.0, 0.02);
  }
  // CLIP's conv1 has no bias.
  patch_embedding = register_module("patch_embedding", PatchConv(c.num_channels, d, c.patch_size, false, o));
  position_embedding = register_module("position_embedding", Embedding(positions, d, o));
  position_ids = register_buffer("position_ids", torch::arange(positions, o.dtype(torch::kInt64)).unsqueeze(0));
}

torch::Tensor ClipVisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) const {
  torch::Tensor patches = patch_embedding->forward(pixel_values);  // [B, N, D]
  torch::Tensor cls = class_embedding.view({1, 1, -1}).expand({patches.size(0), 1, -1});
  return torch::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& c, const torch::TensorOptions& o) {
  const int64_t d = c.encoder.hidden_size;
  embeddings = register_module("embeddings", ClipVisionEmbeddings(c, o));
  pre_layrnorm = register_module("pre_layrnorm", LayerNorm(d, c.encoder.layer_norm_eps, o));
  encoder = register_module("encoder", ClipEncoder(c.encoder, o));
  post_layernorm = register_module("post_layernorm", LayerNorm(d, c.encoder.layer_norm_eps, o));
}

ClipVisionModelImpl::ClipVisionModelImpl(const ClipVisionConfig& c, const torch::TensorOptions& o) : config(c) {
  vision_model = register_module("vision_model", ClipVisionTransformer(c, o));
  if (c.with_projection)
    visual_projection =
        register_module("visual_projection", Linear(c.encoder.hidden_size, c.projection_dim, false, o));
}

void check_pixel_values(const torch::Tensor& x, int64_t channels, int64_t size) {
  if (x.dim() != 4 || !x.is_floating_point() || x.size(1) != channels || x.size(2) != size || x.size(3) != size) {
    std::string got = "[";
    for (int64_t i = 0; i < x.dim(); ++i) got += (i ? ", " : "") + std::to_string(x.size(i));
    throw InputError("pixel_values: expected float [batch, " + std::to_string(channels) + ", " + std::to_string(size) +
                     ", " + std::to_string(size) + "] (config image_size), got " + std::string(x.dtype().name()) +
                     " " + got + "]");
  }
}

ClipVisionOutput ClipVisionModelImpl::forward(const torch::Tensor& pixel_values) const {
  check_pixel_values(pixel_values, config.num_channels, config.image_size);
  ClipVisionOutput out;
  torch::Tensor h = vision_model->pre_layrnorm->forward(vision_model->embeddings->forward(pixel_values));
  out.hidden_states.push_back(h);
  for (auto& layer_out : vision_model->encoder->forward(h, {})) out.hidden_states.push_back(layer_out);
  out.last_hidden_state = out.hidden_states.back();
  out.pooler_output = vision_model->post_layernorm->forward(out.last_hidden_state.select(1, 0));
  if (!visual_projection.is_empty()) out.image_embeds = visual_projection->forward(out.pooler_output);
  return out;
}

}  // namespace pbench::models
