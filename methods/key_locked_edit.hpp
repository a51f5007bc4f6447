#pragma once
// Perfusion's gated rank-one edit of a cross-attention projection (Tewel et al., "Key-Locked
// Rank One Editing for Text-to-Image Personalization", arXiv 2305.01644; wave2-methods.md §1),
// for one concept or several at once.
//
// For a projection W (out x d) and a text encoding e (one token row of the context), with C the
// uncentred covariance of text encodings and i*_k, o*_k concept k's target input and output:
//   similarity  s_k(e) = eᵀ C⁻¹ i*_k / (i*_kᵀ C⁻¹ i*_k),   gate  g_k(e) = sigmoid((s_k(e) - β) / τ)
//   output      W_eff(e) = W (e - P e) + Σ_k g_k(e) o*_k
// where P is the projection onto span{i*_k} orthogonal in the C⁻¹ metric:
//   P e = Σ_k a_k(e) i*_k,  a(e) = G⁻¹ I C⁻¹ e,  G = I C⁻¹ Iᵀ (I: the i*_k as rows).
// One concept: P e = s(e) i*, the paper's W (e - s i*) + g o*. Several: the paper's multi-concept
// form (Appendix B); ChenDarYen's re-implementation gets the same projection through a Cholesky
// factor of C⁻¹ and a QR of the transformed inputs, here G is solved directly (K is tiny).
// The gate's β/τ are the training pair while the module is in training mode and the inference
// pair otherwise (the paper trains at 0.75/0.1 and samples at 0.7/0.15).
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "framework/tensor/adaptable_layers.hpp"

namespace pbench::peft {

struct Gate {
  double beta = 0.75;
  double tau = 0.1;
};

// What every edited layer of one model shares: C⁻¹, the concepts' target inputs and the gate,
// with the terms of the edit that depend on them alone (C⁻¹ Iᵀ, G⁻¹ and diag G), derived once
// per change of the inputs instead of in every layer's every forward pass.
class ConceptInputs {
 public:
  Gate train_gate{0.75, 0.1};
  Gate eval_gate{0.7, 0.15};

  // C⁻¹ [d, d], shared by all concepts, never trained; set before the inputs.
  void set_inverse_covariance(torch::Tensor inverse_covariance) { inverse_covariance_ = std::move(inverse_covariance); }
  // i*_k as rows [K, d] (no gradient: an EMA in training), or one row of them.
  void set_inputs(torch::Tensor inputs);
  void set_input(int64_t k, const torch::Tensor& input);
  const torch::Tensor& inputs() const { return inputs_; }

  const torch::Tensor& metric_inputs() const { return metric_inputs_; }  // C⁻¹ Iᵀ [d, K]
  const torch::Tensor& inverse_gram() const { return inverse_gram_; }    // G⁻¹ [K, K], G = I C⁻¹ Iᵀ
  const torch::Tensor& energies() const { return energies_; }            // diag G = i*_kᵀ C⁻¹ i*_k [K]

 private:
  void derive();
  torch::Tensor inverse_covariance_, inputs_, metric_inputs_, inverse_gram_, energies_;
};

class KeyLockedEdit : public nn::Parameterization {
 public:
  // `base_weight` is the layer's own W (a handle, not copied or registered).
  KeyLockedEdit(std::shared_ptr<ConceptInputs> concepts, torch::Tensor base_weight);
  // Concept k's target output o*_k [out] (k = targets().size() before the call): a trained
  // parameter (a value target) or a locked buffer (a key target).
  void add_target(const torch::Tensor& target, bool trained);
  const std::vector<torch::Tensor>& targets() const { return targets_; }
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_output() const override { return true; }

 private:
  std::shared_ptr<ConceptInputs> concepts_;
  torch::Tensor weight_;
  std::vector<torch::Tensor> targets_;
};

}  // namespace pbench::peft
