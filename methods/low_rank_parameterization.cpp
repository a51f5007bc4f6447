#include "methods/low_rank_parameterization.hpp"

#include "methods/factorizations.hpp"

namespace pbench::peft {

LowRankParameterization::LowRankParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank,
                                                 double alpha)
    : linear_(linear), scale_(alpha / double(rank)) {
  auto [rows, cols] = matrix_shape(layer_weight);
  auto options = layer_weight.options().requires_grad(false);
  down = register_parameter("down", torch::empty({rank, cols}, options));
  up = register_parameter("up", torch::zeros({rows, rank}, options));
  kaiming_uniform_init(down);  // PEFT's lora_A init; up = 0 (lora_B) keeps ΔW = 0 at the start
}

torch::Tensor LowRankParameterization::weight(const torch::Tensor& base) {
  return base + to_weight_shape(low_rank_product(up, down), base) * scale_;
}

torch::Tensor LowRankParameterization::output(const torch::Tensor& input, const torch::Tensor& out) {
  return out + low_rank_apply(input, up, down) * scale_;
}

namespace {
// torch::cat, or an empty tensor of the joined shape on the meta device (counting).
torch::Tensor join(const std::vector<torch::Tensor>& parts, int64_t dim) {
  if (!parts.front().is_meta()) return torch::cat(parts, dim);
  std::vector<int64_t> shape = parts.front().sizes().vec();
  shape[size_t(dim)] = 0;
  for (const auto& p : parts) shape[size_t(dim)] += p.size(dim);
  return torch::empty(shape, parts.front().options());
}
}  // namespace

DyloraParameterization::DyloraParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank,
                                               double alpha)
    : linear_(linear), alpha_(alpha), eval_rank_(rank) {
  auto [rows, cols] = matrix_shape(layer_weight);
  auto options = layer_weight.options().requires_grad(false);
  // Drawn as LoRA's one [r, in] down factor, then split: the same init as LoRA's.
  torch::Tensor down = torch::empty({rank, cols}, options);
  kaiming_uniform_init(down);
  for (int64_t i = 0; i < rank; ++i) {
    downs_.push_back(register_parameter("down_" + std::to_string(i), down.narrow(0, i, 1).clone()));
    ups_.push_back(register_parameter("up_" + std::to_string(i), torch::zeros({rows, 1}, options)));
  }
}

std::pair<torch::Tensor, torch::Tensor> DyloraParameterization::factors() const {
  const int64_t b = step_rank_ > 0 ? step_rank_ : eval_rank_;
  std::vector<torch::Tensor> u, d;
  for (int64_t i = 0; i < b; ++i) {
    const bool detached = step_rank_ > 0 && i < b - 1;
    u.push_back(detached ? ups_[size_t(i)].detach() : ups_[size_t(i)]);
    d.push_back(detached ? downs_[size_t(i)].detach() : downs_[size_t(i)]);
  }
  return {join(u, 1), join(d, 0)};
}

torch::Tensor DyloraParameterization::weight(const torch::Tensor& base) {
  auto [u, d] = factors();
  return base + to_weight_shape(low_rank_product(u, d), base) * (alpha_ / double(d.size(0)));
}

torch::Tensor DyloraParameterization::output(const torch::Tensor& input, const torch::Tensor& out) {
  auto [u, d] = factors();
  return out + low_rank_apply(input, u, d) * (alpha_ / double(d.size(0)));
}

torch::Tensor DyloraParameterization::down() const { return join(downs_, 0); }
torch::Tensor DyloraParameterization::up() const { return join(ups_, 1); }

void DyloraParameterization::load(const torch::Tensor& down, const torch::Tensor& up) {
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < rank(); ++i) {
    downs_[size_t(i)].copy_(down.narrow(0, i, 1));
    ups_[size_t(i)].copy_(up.narrow(1, i, 1));
  }
}

}  // namespace pbench::peft
