#pragma once
// Image preprocessing of the encoders, on uint8 RGB images [H,W,3] or
// [N,H,W,3] -> float [N,3,h,w]:
// - CLIP (openai `_transform` = HF CLIPImageProcessor): resize the shortest
//   side (PIL bicubic, antialiased, uint8 rounding between passes), center
//   crop, rescale 1/255, normalise with CLIP mean/std.
// - DINO: ImageNet mean/std normalisation of an image already at the model
//   size (what refvectors/dino_vit compares), and the DINO evaluation protocol
//   (resize short side 256 bicubic, center crop 224) for the metric.
#include <array>
#include <filesystem>

#include <torch/torch.h>

#include "framework/models/hf/hf_config.hpp"

namespace pbench::models {

enum class ResampleFilter { kBilinear = 2, kBicubic = 3 };  // PIL's numbering, as HF configs store it

struct ClipImageProcessorConfig {
  bool do_resize = true;
  int64_t shortest_edge = 224;  // used when resize_height == 0
  int64_t resize_height = 0, resize_width = 0;  // `size: {height, width}`: exact size, no aspect ratio
  ResampleFilter resample = ResampleFilter::kBicubic;
  bool do_center_crop = true;
  int64_t crop_height = 224, crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> mean{0.48145466, 0.4578275, 0.40821073};
  std::array<double, 3> std{0.26862954, 0.26130258, 0.27577711};
};

// From `preprocessor_config.json` (old CLIPFeatureExtractor and new
// CLIPImageProcessor layouts); InputError naming file and key otherwise.
ClipImageProcessorConfig parse_clip_image_processor(const JsonSection& section);
ClipImageProcessorConfig read_clip_image_processor(const std::filesystem::path& file);

torch::Tensor clip_preprocess(const torch::Tensor& images_u8, const ClipImageProcessorConfig& config);

// Pillow's Image.resize for 8-bit images (separable convolution with support
// scaled by the reduction factor, fixed-point coefficients, horizontal pass
// then vertical, each rounded and clipped to uint8). hwc: uint8 [H,W,C].
torch::Tensor resize_like_pil(const torch::Tensor& hwc_u8, int64_t out_height, int64_t out_width, ResampleFilter filter);

// torchvision CenterCrop offsets: round((size - crop) / 2), ties to even.
torch::Tensor center_crop(const torch::Tensor& hwc, int64_t height, int64_t width);

// uint8 [N,H,W,C] -> float [N,C,H,W]: (u8 * rescale - mean) / std.
torch::Tensor normalize_images(const torch::Tensor& nhwc_u8, double rescale, const std::array<double, 3>& mean,
                               const std::array<double, 3>& std);

constexpr std::array<double, 3> kImageNetMean{0.485, 0.456, 0.406};
constexpr std::array<double, 3> kImageNetStd{0.229, 0.224, 0.225};

// DINO normalisation only (no resize): images must already be size x size.
torch::Tensor dino_normalize(const torch::Tensor& images_u8, int64_t size);

// DINO's evaluation transform: Resize(resize_short, bicubic) -> CenterCrop(crop) -> normalise.
torch::Tensor dino_eval_preprocess(const torch::Tensor& images_u8, int64_t resize_short = 256, int64_t crop = 224);

}  // namespace pbench::models
