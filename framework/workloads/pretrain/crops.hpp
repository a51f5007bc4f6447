#pragma once
// Random resized crops and flips of a batch in one grid_sample (torchvision's
// RandomResizedCrop semantics: area fraction uniform in [scale_min, scale_max],
// log-uniform aspect ratio in [3/4, 4/3], position uniform where the box fits),
// drawn from the step's generator so a resumed run crops identically.
#include <torch/torch.h>

namespace pbench::pretrain {

struct CropOptions {
  int64_t out_size = 32;
  double scale_min = 0.4, scale_max = 1.0;
  double flip_probability = 0.5;
};

// images [B, C, H, W] float -> [B, C, out_size, out_size] (bilinear, borders never sampled).
torch::Tensor random_resized_crops(const torch::Tensor& images, const CropOptions& options,
                                   torch::Generator& generator);

// uint8 [B, H, W, 3] -> uint8 [B, out, out, 3] (for preprocessors that take uint8 images).
torch::Tensor random_resized_crops_u8(const torch::Tensor& images_u8, const CropOptions& options,
                                      torch::Generator& generator);

}  // namespace pbench::pretrain
