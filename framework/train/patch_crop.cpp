#include "framework/train/patch_crop.hpp"

#include <algorithm>
#include <stdexcept>

namespace pbench {

PatchCrop crop_patch(const torch::Tensor& image, const CropBox& box, int64_t latent_factor) {
  const int64_t side = image.size(-1);
  if (image.dim() != 3 || image.size(1) != side) throw std::invalid_argument("patch crop: expected a [3, S, S] image");
  if (latent_factor < 1 || side % latent_factor != 0)
    throw std::invalid_argument("patch crop: the side is not a multiple of the latent factor");
  const int64_t cells = side / latent_factor;
  if (box.top < 0 || box.left < 0 || box.bottom > cells || box.right > cells || box.bottom <= box.top ||
      box.right <= box.left)
    throw std::invalid_argument("patch crop: the box is empty or outside the latent grid");
  torch::Tensor patch = image.slice(1, box.top * latent_factor, box.bottom * latent_factor)
                            .slice(2, box.left * latent_factor, box.right * latent_factor);
  // A patch is never larger than the image: it is only ever enlarged, so no antialiasing.
  torch::Tensor resized =
      torch::nn::functional::interpolate(patch.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                 .size(std::vector<int64_t>{side, side})
                                                                 .mode(torch::kBilinear)
                                                                 .align_corners(false))
          .squeeze(0);
  return PatchCrop{resized.contiguous(), box};
}

PatchCrop random_patch_crop(const torch::Tensor& image, int64_t latent_factor, double min_frac, double max_frac,
                            torch::Generator& gen) {
  if (!(min_frac > 0.0 && min_frac <= max_frac && max_frac <= 1.0))
    throw std::invalid_argument("patch crop: fractions must satisfy 0 < min_frac <= max_frac <= 1");
  const int64_t cells = image.size(-1) / std::max<int64_t>(latent_factor, 1);
  // The reference's order of draws: height, width, then the offsets.
  auto patch_cells = [&] {
    const double u = torch::rand({1}, gen, torch::kFloat64).item<double>();
    return std::clamp<int64_t>(int64_t(double(cells) * (u * (max_frac - min_frac) + min_frac)), 1, cells);
  };
  const int64_t h = patch_cells(), w = patch_cells();
  const int64_t top = torch::randint(cells - h + 1, {1}, gen, torch::kInt64).item<int64_t>();
  const int64_t left = torch::randint(cells - w + 1, {1}, gen, torch::kInt64).item<int64_t>();
  return crop_patch(image, CropBox{top, left, top + h, left + w}, latent_factor);
}

}  // namespace pbench
