#pragma once
// The low-rank update ΔW = scale · up · down of LoRA and DyLoRA.
// Linear layers rewrite the output (y + scale·up(down(x)): the frozen W is
// never differentiated, as PEFT does); Conv2d layers rewrite the weight in
// its matrix view (LoCon-style), the one form that keeps any kernel/stride.
// `up` starts at zero, so the adapted layer equals the base layer at init.
#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "framework/tensor/adaptable_layers.hpp"

namespace pbench::peft {

class LowRankParameterization;
// LoRA's parameterization of one adapted layer (linear: on its output; conv: on its weight).
std::shared_ptr<LowRankParameterization> make_low_rank(const nn::AdaptableRef& layer, int64_t rank, double alpha,
                                                       torch::Generator& gen);

class LowRankParameterization : public nn::Parameterization {
 public:
  // `layer_weight` gives shapes and the device/dtype (meta: shapes only).
  // `gen`: the run's method-init stream (MethodTarget::generator).
  LowRankParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank, double alpha,
                          torch::Generator& gen);

  torch::Tensor weight(const torch::Tensor& base) override;
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_weight() const override { return !linear_; }
  bool rewrites_output() const override { return linear_; }
  bool output_is_affine() const override { return true; }
  // ΔW in the weight's matrix view [out, in*kh*kw]: scale · up · down.
  torch::Tensor update() const;
  double scale() const { return scale_; }  // alpha / r

  torch::Tensor down, up;  // [r, in*kh*kw], [out, r]

 private:
  bool linear_;
  double scale_;  // alpha / r
};

// DyLoRA (arXiv 2210.07558): the same update over ordered components, each its
// own tensor — down_i [1, in*kh*kw], up_i [out, 1], as LyCORIS' dylora.py keeps
// them in ParameterLists. A training step at sampled rank b runs the first b
// components with scale alpha / b and trains only the b-th (the paper's
// Algorithm 1): the lower ones are detached, the higher ones unused. Separate
// tensors are what keep AdamW off the others: a tensor without a gradient is
// skipped (clear_gradients), where the rows of one shared tensor would still be
// decayed and pushed along their running averages. Outside steps the first
// `eval_rank` components run (none detached).
class DyloraParameterization : public nn::Parameterization {
 public:
  DyloraParameterization(const torch::Tensor& layer_weight, bool linear, int64_t rank, double alpha,
                         torch::Generator& gen);

  torch::Tensor weight(const torch::Tensor& base) override;
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_weight() const override { return !linear_; }
  bool rewrites_output() const override { return linear_; }
  bool output_is_affine() const override { return true; }

  // The rank b of the training step under way (1..r); 0 ends the step.
  void set_step_rank(int64_t b) { step_rank_ = b; }
  // The rank used outside training steps (1..r).
  void set_eval_rank(int64_t b) { eval_rank_ = b; }
  int64_t rank() const { return int64_t(downs_.size()); }

  // All r components in LoRA's layout (the delta): down [r, in*kh*kw], up [out, r].
  torch::Tensor down() const;
  torch::Tensor up() const;
  // Copies factors of that layout into the components.
  void load(const torch::Tensor& down, const torch::Tensor& up);

 private:
  // The factors the current forward uses: (up [out, b], down [b, in*kh*kw]).
  std::pair<torch::Tensor, torch::Tensor> factors() const;
  // Brings the mirror up to date with every component whose version counter moved.
  void refresh_mirror() const;

  bool linear_;
  double alpha_;
  int64_t step_rank_ = 0, eval_rank_;
  std::vector<torch::Tensor> downs_, ups_;
  // Why a mirror: a forward that joined the b live components cost b detaches and
  // two b-way cats per layer (W1.train_dylora 1.5x slower than one-tensor DyLoRA).
  // mirror_down_ [r, in*kh*kw] / mirror_up_ [out, r] hold detached copies of all
  // components in LoRA's layout, refreshed per component from its version counter
  // (every in-place change — AdamW, load, a test's copy_ — bumps it). A training
  // step then joins one slice of the mirror with the trained component, and a
  // forward without gradients is two slices of it.
  mutable torch::Tensor mirror_down_, mirror_up_;
  mutable std::vector<int64_t> seen_down_, seen_up_;
};

}  // namespace pbench::peft
