#include "framework/workloads/pretrain/crops.hpp"

#include <cmath>

namespace pbench::pretrain {

torch::Tensor random_resized_crops(const torch::Tensor& images, const CropOptions& options,
                                   torch::Generator& generator) {
  const int64_t batch = images.size(0);
  const auto uniform = [&](double lo, double hi) { return torch::rand({batch}, generator, torch::kFloat64) * (hi - lo) + lo; };
  const torch::Tensor area = uniform(options.scale_min, options.scale_max);
  // A crop of the whole area keeps the aspect ratio too (a flip-only "crop").
  const double max_log_ratio = options.scale_min >= 1.0 ? 0.0 : std::log(4.0 / 3.0);
  const torch::Tensor log_ratio = uniform(-max_log_ratio, max_log_ratio);
  // Box sides as fractions of the image side, clamped to fit.
  const torch::Tensor width = (area * log_ratio.exp()).sqrt().clamp_max(1.0);
  const torch::Tensor height = (area / log_ratio.exp()).sqrt().clamp_max(1.0);
  // Centres in normalised [-1, 1] coordinates, anywhere the box fits.
  const torch::Tensor cx = (uniform(0, 1) * 2 - 1) * (1 - width);
  const torch::Tensor cy = (uniform(0, 1) * 2 - 1) * (1 - height);
  const torch::Tensor flip = torch::rand({batch}, generator, torch::kFloat64) < options.flip_probability;
  const torch::Tensor sx = torch::where(flip, -width, width);
  torch::Tensor theta = torch::zeros({batch, 2, 3}, torch::kFloat64);
  theta.select(1, 0).select(1, 0).copy_(sx);
  theta.select(1, 0).select(1, 2).copy_(cx);
  theta.select(1, 1).select(1, 1).copy_(height);
  theta.select(1, 1).select(1, 2).copy_(cy);
  const torch::Tensor grid = torch::nn::functional::affine_grid(
      theta.to(images.scalar_type()), {batch, images.size(1), options.out_size, options.out_size},
      /*align_corners=*/false);
  return torch::nn::functional::grid_sample(images, grid,
                                            torch::nn::functional::GridSampleFuncOptions()
                                                .mode(torch::kBilinear)
                                                .padding_mode(torch::kBorder)
                                                .align_corners(false));
}

torch::Tensor random_resized_crops_u8(const torch::Tensor& images_u8, const CropOptions& options,
                                      torch::Generator& generator) {
  const torch::Tensor images = images_u8.permute({0, 3, 1, 2}).to(torch::kFloat32);
  return random_resized_crops(images, options, generator).round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace pbench::pretrain
