#include "metrics/backbones.hpp"

#include <cmath>

#include "framework/util/errors.hpp"

namespace pbench::metrics {

models::ClipImageProcessorConfig clip_metric_preprocess(int64_t image_size) {
  models::ClipImageProcessorConfig c;  // bicubic, CLIP mean/std, rescale 1/255
  c.shortest_edge = image_size;
  c.crop_height = c.crop_width = image_size;
  return c;
}

DinoGeometry dino_metric_geometry(int64_t image_size) {
  return DinoGeometry{int64_t(std::lround(double(image_size) * 256.0 / 224.0)), image_size};
}

namespace {

void check_images(const torch::Tensor& images, const std::string& backbone) {
  if (images.dim() != 4 || images.size(3) != 3 || images.scalar_type() != torch::kUInt8)
    throw InputError(backbone + ": images: expected uint8 [N, H, W, 3] RGB, got " + std::string(c10::toString(images.scalar_type())) +
                     " with " + std::to_string(images.dim()) + " dims");
}

template <class Encode>
torch::Tensor in_chunks(const torch::Tensor& images, int64_t chunk, int64_t width, Encode encode) {
  if (images.size(0) == 0) return torch::empty({0, width});
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += chunk) parts.push_back(encode(images.slice(0, i, i + chunk)));
  return torch::cat(parts);
}

torch::Device device_of(const torch::nn::Module& m) { return m.parameters().front().device(); }

}  // namespace

torch::Tensor clip_image_embeddings(const ClipBackbone& clip, const torch::Tensor& images_u8, int64_t chunk) {
  check_images(images_u8, clip.source);
  if (clip.vision.is_empty() || clip.vision->visual_projection.is_empty())
    throw InputError(clip.source + ": expected a CLIP vision tower with visual_projection");
  torch::NoGradGuard no_grad;
  const torch::Device device = device_of(*clip.vision);
  return in_chunks(images_u8, chunk, clip.vision->config.projection_dim, [&](const torch::Tensor& part) {
    torch::Tensor pixels = models::clip_preprocess(part, clip.preprocess).to(device);
    return clip.vision->forward(pixels).image_embeds.to(torch::kCPU);
  });
}

torch::Tensor clip_text_embeddings(const ClipBackbone& clip, const std::vector<std::string>& prompts) {
  if (!clip.tokenizer || clip.text.is_empty() || clip.text->text_projection.is_empty())
    throw InputError(clip.source + ": expected a CLIP tokenizer and a text tower with text_projection");
  const int64_t width = clip.text->config.projection_dim;
  if (prompts.empty()) return torch::empty({0, width});
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids, mask;
  for (const auto& p : prompts) {
    TokenizedText t = clip.tokenizer->encode(p);
    ids.insert(ids.end(), t.input_ids.begin(), t.input_ids.end());
    mask.insert(mask.end(), t.attention_mask.begin(), t.attention_mask.end());
  }
  const int64_t n = int64_t(prompts.size());
  const torch::Device device = device_of(*clip.text);
  torch::Tensor id_t = torch::tensor(ids, torch::kInt64).view({n, -1}).to(device);
  torch::Tensor mask_t = torch::tensor(mask, torch::kInt64).view({n, -1}).to(device);
  return clip.text->forward(id_t, mask_t).text_embeds.to(torch::kCPU);
}

torch::Tensor dino_embeddings(const DinoBackbone& dino, const torch::Tensor& images_u8, int64_t chunk) {
  check_images(images_u8, dino.source);
  if (dino.model.is_empty()) throw InputError(dino.source + ": expected a DINO ViT");
  torch::NoGradGuard no_grad;
  const DinoGeometry g = dino_metric_geometry(dino.model->config.image_size);
  const torch::Device device = device_of(*dino.model);
  return in_chunks(images_u8, chunk, dino.model->config.hidden_size, [&](const torch::Tensor& part) {
    torch::Tensor pixels = models::dino_eval_preprocess(part, g.resize_short, g.crop).to(device);
    return dino.model->forward(pixels).cls.to(torch::kCPU);
  });
}

}  // namespace pbench::metrics
