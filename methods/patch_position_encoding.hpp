#pragma once
// SINE's positional encoding of a patch's place in the image (Zhang et al., arXiv 2212.04489;
// zhang-zx/SINE `UNetModelPatch` and ldm/modules/diffusionmodules/positional_encoding.py),
// as an output rewrite of the UNet's conv_in: y' = conv_in(x) + P(box), where P is a fixed
// 2-D sinusoidal grid over the image's latent grid (G × G cells), cut to the patch's box and
// resized (bilinear, corners aligned) to the feature map. Nothing in it trains: the fine-tuned
// UNet learns to read it, so one source image can be learnt patch by patch and then sampled at
// any size (no box: the whole grid).
// The grid, for C = conv_in's output channels, D = C / 2 per axis, h = D / 2:
//   ω_k = exp(−k · ln(10⁴) / (h − 1)), k = 0 … h−1   (the reference's div_half_dim false)
//   e(p) = [sin(p ω_0) … sin(p ω_{h−1}), cos(p ω_0) … cos(p ω_{h−1})]
//   positions p = i + s for cell i = 1 … G, s = center_shift − G/2 (G even) or
//   center_shift − (G/2 + 1) (G odd): the grid's centre sits at position center_shift (100)
//   P[c, y, x] = e(p_x)[c] for c < D, e(p_y)[c − D] for c ≥ D   (x-axis channels first).
#include <memory>
#include <optional>
#include <vector>

#include "framework/tensor/adaptable_layers.hpp"
#include "framework/train/patch_crop.hpp"

namespace pbench::peft {

// The [C, G, G] grid.
torch::Tensor patch_position_grid(int64_t channels, int64_t grid_side, int64_t center_shift);

class PatchPositionEncoding : public nn::Parameterization {
 public:
  PatchPositionEncoding(int64_t channels, int64_t grid_side, int64_t center_shift);
  // The boxes of the next passes' rows (one per row, or one for all); empty: the whole grid.
  void set_boxes(std::vector<CropBox> boxes) { boxes_ = std::move(boxes); }
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_output() const override { return true; }
  int64_t grid_side() const { return grid_.size(1); }

 private:
  torch::Tensor grid_;  // [C, G, G], a buffer (not a parameter: nothing trains)
  std::vector<CropBox> boxes_;
};

}  // namespace pbench::peft
