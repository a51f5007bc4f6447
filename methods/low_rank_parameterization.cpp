#include "methods/low_rank_parameterization.hpp"

#include "methods/factorizations.hpp"

namespace pbench::peft {

LowRankParameterization::LowRankParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank,
                                                 double alpha)
    : linear_(linear), rank_(rank), alpha_(alpha) {
  auto [rows, cols] = matrix_shape(layer_weight);
  auto options = layer_weight.options().requires_grad(false);
  down = register_parameter("down", torch::empty({rank, cols}, options));
  up = register_parameter("up", torch::zeros({rows, rank}, options));
  kaiming_uniform_init(down);  // PEFT's lora_A init; up = 0 (lora_B) keeps ΔW = 0 at the start
}

double LowRankParameterization::scale() const {
  int64_t r = active_rank_ > 0 && active_rank_ < rank_ ? active_rank_ : rank_;
  return alpha_ / double(r);
}

torch::Tensor LowRankParameterization::weight(const torch::Tensor& base) {
  return base + to_weight_shape(low_rank_product(up, down, active_rank_), base) * scale();
}

torch::Tensor LowRankParameterization::output(const torch::Tensor& input, const torch::Tensor& out) {
  return out + low_rank_apply(input, up, down, active_rank_) * scale();
}

}  // namespace pbench::peft
