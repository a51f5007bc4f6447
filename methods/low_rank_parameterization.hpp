#pragma once
// The low-rank update ΔW = scale · up · down shared by LoRA and DyLoRA.
// Linear layers rewrite the output (y + scale·up(down(x)): the frozen W is
// never differentiated, as PEFT does); Conv2d layers rewrite the weight in
// its matrix view (LoCon-style), the one form that keeps any kernel/stride.
// `up` starts at zero, so the adapted layer equals the base layer at init.
#include <torch/torch.h>

#include "framework/tensor/adaptable_layers.hpp"

namespace pbench::peft {

class LowRankParameterization : public nn::Parameterization {
 public:
  // `layer_weight` gives shapes and the device/dtype (meta: shapes only).
  LowRankParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank, double alpha);

  torch::Tensor weight(const torch::Tensor& base) override;
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_weight() const override { return !linear_; }
  bool rewrites_output() const override { return linear_; }

  // DyLoRA: use only the first `rank` components, scaled by alpha/rank (0 = all, alpha/r).
  void set_active_rank(int64_t rank) { active_rank_ = rank; }
  int64_t rank() const { return rank_; }

  torch::Tensor down, up;  // [r, in*kh*kw], [out, r]

 private:
  double scale() const;
  bool linear_;
  int64_t rank_;
  double alpha_;
  int64_t active_rank_ = 0;
};

}  // namespace pbench::peft
