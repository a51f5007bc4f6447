#pragma once
// The CLIP image encoder a method conditions on (DisenBooth's image branch, arXiv 2305.03374;
// the encoder methods' image side). Loaded by spec:
//   "pipeline"        the pipeline folder's image_encoder/ (a CLIPVisionModelWithProjection:
//                     diffusers' layout for IP-Adapter and unCLIP pipelines). builtin:mini ships
//                     the vision tower trained beside its text encoder (docs/mini_world.md);
//                     builtin:tiny has a random one (plumbing checks, like the rest of it).
//   builtin:mini-clip / builtin:tiny-clip, or a folder holding a CLIPModel or a
//   CLIPVisionModel[WithProjection] (config.json, model.safetensors).
// Frozen: it is evaluated without gradients and never trained.
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/image_preprocess.hpp"
#include "framework/models/sd/pipeline.hpp"

namespace pbench::models {

constexpr const char* kPipelineImageEncoder = "pipeline";

struct ImageEncoder {
  std::string source;                  // the spec, or the folder "pipeline" resolved to
  ClipVisionModel vision{nullptr};     // with visual_projection
  ClipImageProcessorConfig preprocess;  // its mean/std (preprocessor_config.json; CLIP's without one)

  int64_t embed_dim() const { return vision->config.projection_dim; }
  // Projected embeddings [N, P] of images in [-1, 1] ([N, 3, H, W], the VAE's input), resized
  // bilinearly to the tower's image_size. `normalize` false feeds the [-1, 1] pixels as they are
  // (DisenBooth's reference code: no CLIP mean/std); true maps them to [0, 1] and applies the
  // processor's mean/std.
  torch::Tensor encode(const torch::Tensor& pixels, bool normalize) const;
};

// InputError naming the spec or folder, what was expected and where such weights come from.
ImageEncoder load_image_encoder(const std::string& spec, const Pipeline& pipeline);

}  // namespace pbench::models
