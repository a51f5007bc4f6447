#include "metrics/image_fidelity.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "framework/util/errors.hpp"

namespace pbench::metrics {

namespace {

constexpr double kPeak = 255.0;

// uint8 [H, W, 3] -> float64 [1, 3, H, W]; InputError when the pair's shapes differ.
std::pair<torch::Tensor, torch::Tensor> as_pair(const torch::Tensor& a, const torch::Tensor& b, const char* metric) {
  if (a.dim() != 3 || a.size(2) != 3 || a.sizes() != b.sizes())
    throw InputError(std::string(metric) + ": expected two uint8 images of one shape [H, W, 3], got " +
                     std::to_string(a.dim()) + "-D and " + std::to_string(b.dim()) + "-D tensors of " +
                     std::to_string(a.numel()) + " and " + std::to_string(b.numel()) + " values");
  auto to_nchw = [](const torch::Tensor& x) { return x.to(torch::kFloat64).permute({2, 0, 1}).unsqueeze(0); };
  return {to_nchw(a), to_nchw(b)};
}

}  // namespace

double psnr_u8(const torch::Tensor& image, const torch::Tensor& reference) {
  auto [a, b] = as_pair(image, reference, "psnr");
  const double mse = (a - b).pow(2).mean().item<double>();
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(kPeak * kPeak / mse);
}

double psnr_outside_u8(const torch::Tensor& image, const torch::Tensor& reference, const torch::Tensor& mask) {
  auto [a, b] = as_pair(image, reference, "background_psnr");
  if (mask.dim() != 2 || mask.size(0) != a.size(2) || mask.size(1) != a.size(3))
    throw InputError("background_psnr: expected a mask [H, W] of the image's size");
  const torch::Tensor outside = mask.to(torch::kFloat64).eq(0).to(torch::kFloat64);  // [H, W]
  const double count = outside.sum().item<double>() * 3.0;
  if (count == 0.0) return std::numeric_limits<double>::quiet_NaN();
  const double mse = ((a - b).pow(2) * outside).sum().item<double>() / count;
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(kPeak * kPeak / mse);
}

torch::Tensor ssim_window(int64_t side, double sigma) {
  torch::Tensor x = torch::arange(side, torch::kFloat64) - double(side - 1) / 2.0;
  torch::Tensor g = torch::exp(-x.pow(2) / (2.0 * sigma * sigma));
  torch::Tensor w = torch::outer(g, g);
  return w / w.sum();
}

double ssim_u8(const torch::Tensor& image, const torch::Tensor& reference) {
  auto [x, y] = as_pair(image, reference, "ssim");
  int64_t side = std::min<int64_t>({11, x.size(2), x.size(3)});
  if (side % 2 == 0) --side;  // an odd window, centered on a pixel
  // One filter per channel (groups = 3): every moment is a windowed mean.
  torch::Tensor w = ssim_window(side).view({1, 1, side, side}).expand({3, 1, side, side}).contiguous();
  auto filter = [&](const torch::Tensor& t) { 
    const std::vector<int64_t> one{1, 1}, none{0, 0};
    return torch::conv2d(t, w, c10::nullopt, one, none, one, 3);
   };
  const double c1 = std::pow(0.01 * kPeak, 2), c2 = std::pow(0.03 * kPeak, 2);
  torch::Tensor mx = filter(x), my = filter(y);
  torch::Tensor vx = filter(x * x) - mx * mx, vy = filter(y * y) - my * my, cxy = filter(x * y) - mx * my;
  torch::Tensor map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
  return map.mean({0, 2, 3}).mean().item<double>();  // per channel, then over channels
}

}  // namespace pbench::metrics
