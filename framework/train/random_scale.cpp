#include "framework/train/random_scale.hpp"

#include <stdexcept>

namespace pbench {
namespace {
// An integer uniform in [lo, hi] (both included), from the run's stream.
int64_t uniform_int(int64_t lo, int64_t hi, torch::Generator& gen) {
  return lo + torch::randint(hi - lo + 1, {1}, gen, torch::kInt64).item<int64_t>();
}

const char* prefix_for(int64_t scale, int64_t side, int choice) {
  static const char* const far[] = {"a far away ", "very small "};
  static const char* const near[] = {"zoomed in ", "close up "};
  if (10 * scale < 6 * side) return far[choice];  // s < 0.6 S, in integers
  if (scale > side) return near[choice];
  return "";
}
}  // namespace

ScaledInstance place_at_scale(const torch::Tensor& image, int64_t scale, int64_t top, int64_t left,
                              int64_t latent_factor, int prefix_choice) {
  const int64_t side = image.size(-1);
  if (image.dim() != 3 || image.size(1) != side) throw std::invalid_argument("random scale: expected a [3, S, S] image");
  if (scale < 1) throw std::invalid_argument("random scale: scale must be >= 1");
  if (latent_factor < 1 || side % latent_factor != 0)
    throw std::invalid_argument("random scale: the side is not a multiple of the latent factor");
  const int64_t outer = std::max(scale, side), inner = std::min(scale, side);
  if (top < 0 || left < 0 || top > outer - inner || left > outer - inner)
    throw std::invalid_argument("random scale: offset outside the canvas");
  // Bilinear with antialiasing when shrinking, as PIL's resize the reference calls.
  torch::Tensor resized =
      torch::nn::functional::interpolate(image.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                 .size(std::vector<int64_t>{scale, scale})
                                                                 .mode(torch::kBilinear)
                                                                 .align_corners(false)
                                                                 .antialias(scale < side))
          .squeeze(0);
  const int64_t cells = side / latent_factor;
  ScaledInstance out;
  out.prompt_prefix = prefix_for(scale, side, prefix_choice);
  out.scale = scale;
  out.top = top;
  out.left = left;
  if (scale > side) {
    out.pixels = resized.slice(1, top, top + side).slice(2, left, left + side).contiguous();
    out.mask = torch::ones({1, cells, cells}, image.options());
    return out;
  }
  out.pixels = torch::zeros_like(image);
  out.pixels.slice(1, top, top + scale).slice(2, left, left + scale).copy_(resized);
  out.mask = torch::zeros({1, cells, cells}, image.options());
  const int64_t r0 = top / latent_factor + 1, r1 = (top + scale) / latent_factor - 1;
  const int64_t c0 = left / latent_factor + 1, c1 = (left + scale) / latent_factor - 1;
  if (r1 > r0 && c1 > c0) out.mask.slice(1, r0, r1).slice(2, c0, c1).fill_(1.0);
  return out;
}

ScaledInstance random_scale_instance(const torch::Tensor& image, int64_t latent_factor, torch::Generator& gen) {
  const int64_t side = image.size(-1);
  const bool shrink = torch::rand({1}, gen).item<double>() < 0.66;
  // numpy's randint(a, b) excludes b: [S/3, S] and [int(1.2 S), int(1.4 S) - 1].
  const int64_t scale = shrink ? uniform_int(side / 3, side, gen)
                               : uniform_int(side * 12 / 10, std::max(side * 12 / 10, side * 14 / 10 - 1), gen);
  const int64_t room = std::max(scale, side) - std::min(scale, side);
  const int64_t top = uniform_int(0, room, gen), left = uniform_int(0, room, gen);
  const int choice = int(uniform_int(0, 1, gen));
  return place_at_scale(image, scale, top, left, latent_factor, choice);
}

}  // namespace pbench
