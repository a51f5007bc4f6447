#include "methods/patch_position_encoding.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace pbench::peft {

torch::Tensor patch_position_grid(int64_t channels, int64_t grid_side, int64_t center_shift) {
  if (channels % 4 != 0 || channels < 8)
    throw std::invalid_argument("patch position encoding: conv_in's channels (" + std::to_string(channels) +
                                ") must be a multiple of 4, at least 8");
  if (grid_side < 1) throw std::invalid_argument("patch position encoding: the grid needs a cell");
  const int64_t per_axis = channels / 2, half = per_axis / 2;
  const torch::Tensor freq = torch::exp(torch::arange(half, torch::kFloat64) * (-std::log(1e4) / double(half - 1)));
  const int64_t shift = center_shift - (grid_side % 2 == 0 ? grid_side / 2 : grid_side / 2 + 1);
  const torch::Tensor positions = torch::arange(1, grid_side + 1, torch::kFloat64) + double(shift);
  const torch::Tensor angles = positions.unsqueeze(1) * freq.unsqueeze(0);           // [G, h]
  const torch::Tensor axis = torch::cat({torch::sin(angles), torch::cos(angles)}, 1).t();  // [D, G]
  const torch::Tensor x_part = axis.unsqueeze(1).expand({per_axis, grid_side, grid_side});  // varies along columns
  const torch::Tensor y_part = axis.unsqueeze(2).expand({per_axis, grid_side, grid_side});  // varies along rows
  return torch::cat({x_part, y_part}, 0).to(torch::kFloat32).contiguous();
}

PatchPositionEncoding::PatchPositionEncoding(int64_t channels, int64_t grid_side, int64_t center_shift) {
  grid_ = register_buffer("grid", patch_position_grid(channels, grid_side, center_shift));
}

torch::Tensor PatchPositionEncoding::output(const torch::Tensor& /*input*/, const torch::Tensor& out) {
  namespace F = torch::nn::functional;
  const int64_t rows = out.size(0), g = grid_.size(1);
  const auto resize = [&](const torch::Tensor& cut) {
    return F::interpolate(cut.unsqueeze(0), F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{out.size(2), out.size(3)})
                                                .mode(torch::kBilinear)
                                                .align_corners(true));
  };
  const torch::Tensor grid = grid_.to(out.device(), out.scalar_type());
  if (boxes_.empty()) return out + resize(grid);
  if (boxes_.size() != 1 && int64_t(boxes_.size()) != rows)
    throw std::logic_error("patch position encoding: " + std::to_string(boxes_.size()) + " boxes for " +
                           std::to_string(rows) + " rows");
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < rows; ++r) {
    const CropBox& b = boxes_[boxes_.size() == 1 ? 0 : size_t(r)];
    if (b.top < 0 || b.left < 0 || b.bottom > g || b.right > g || b.bottom <= b.top || b.right <= b.left)
      throw std::logic_error("patch position encoding: a box outside the " + std::to_string(g) + "-cell grid");
    parts.push_back(resize(grid.slice(1, b.top, b.bottom).slice(2, b.left, b.right)));
  }
  return out + torch::cat(parts, 0);
}

}  // namespace pbench::peft
