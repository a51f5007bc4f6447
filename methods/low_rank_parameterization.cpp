#include "methods/low_rank_parameterization.hpp"

#include "methods/factorizations.hpp"

namespace pbench::peft {

std::shared_ptr<LowRankParameterization> make_low_rank(const nn::AdaptableRef& layer, int64_t rank, double alpha,
                                                       torch::Generator& gen) {
  const bool linear = std::string(layer.layer->layer_kind()) == "linear";
  return std::make_shared<LowRankParameterization>(layer.weight(), linear, rank, alpha, gen);
}

LowRankParameterization::LowRankParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank,
                                                 double alpha, torch::Generator& gen)
    : linear_(linear), scale_(alpha / double(rank)) {
  auto [rows, cols] = matrix_shape(layer_weight);
  auto options = layer_weight.options().requires_grad(false);
  down = register_parameter("down", torch::empty({rank, cols}, options));
  up = register_parameter("up", torch::zeros({rows, rank}, options));
  kaiming_uniform_init(down, gen);  // PEFT's lora_A init; up = 0 (lora_B) keeps ΔW = 0 at the start
}

torch::Tensor LowRankParameterization::weight(const torch::Tensor& base) {
  return base + to_weight_shape(low_rank_product(up, down), base) * scale_;
}

torch::Tensor LowRankParameterization::update() const { return low_rank_product(up, down) * scale(); }

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
                                               double alpha, torch::Generator& gen)
    : linear_(linear), alpha_(alpha), eval_rank_(rank) {
  auto [rows, cols] = matrix_shape(layer_weight);
  auto options = layer_weight.options().requires_grad(false);
  // Drawn as LoRA's one [r, in] down factor, then split: the same init as LoRA's.
  torch::Tensor down = torch::empty({rank, cols}, options);
  kaiming_uniform_init(down, gen);
  for (int64_t i = 0; i < rank; ++i) {
    downs_.push_back(register_parameter("down_" + std::to_string(i), down.narrow(0, i, 1).clone()));
    ups_.push_back(register_parameter("up_" + std::to_string(i), torch::zeros({rows, 1}, options)));
  }
}

void DyloraParameterization::refresh_mirror() const {
  const auto& probe = downs_.front();
  if (!mirror_down_.defined() || mirror_down_.device() != probe.device() || mirror_down_.dtype() != probe.dtype()) {
    mirror_down_ = torch::empty({rank(), probe.size(1)}, probe.options().requires_grad(false));
    mirror_up_ = torch::empty({ups_.front().size(0), rank()}, probe.options().requires_grad(false));
    seen_down_.assign(size_t(rank()), -1);
    seen_up_.assign(size_t(rank()), -1);
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < downs_.size(); ++i) {
    if (downs_[i]._version() != seen_down_[i]) {
      mirror_down_.narrow(0, int64_t(i), 1).copy_(downs_[i]);
      seen_down_[i] = downs_[i]._version();
    }
    if (ups_[i]._version() != seen_up_[i]) {
      mirror_up_.narrow(1, int64_t(i), 1).copy_(ups_[i]);
      seen_up_[i] = ups_[i]._version();
    }
  }
}

std::pair<torch::Tensor, torch::Tensor> DyloraParameterization::factors() const {
  const int64_t b = step_rank_ > 0 ? step_rank_ : eval_rank_;
  const bool needs_graph = step_rank_ > 0 || torch::GradMode::is_enabled();
  if (downs_.front().is_meta() || (step_rank_ == 0 && needs_graph)) {
    // Counting on the meta device, or gradients to every used component outside a step.
    std::vector<torch::Tensor> u(ups_.begin(), ups_.begin() + b), d(downs_.begin(), downs_.begin() + b);
    return {join(u, 1), join(d, 0)};
  }
  refresh_mirror();
  if (step_rank_ == 0) return {mirror_up_.narrow(1, 0, b), mirror_down_.narrow(0, 0, b)};
  // A training step: components 1..b-1 from the mirror (detached), component b live.
  const auto& up_b = ups_[size_t(b - 1)];
  const auto& down_b = downs_[size_t(b - 1)];
  if (b == 1) return {up_b, down_b};
  return {torch::cat({mirror_up_.narrow(1, 0, b - 1), up_b}, 1), torch::cat({mirror_down_.narrow(0, 0, b - 1), down_b}, 0)};
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
