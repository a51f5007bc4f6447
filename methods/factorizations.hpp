#pragma once
// The weight-update algebra shared by the parameterization methods, in one
// place: every Linear / Conv2d / Embedding weight is seen as a matrix
// [out, in*kh*kw] (convolutions flattened as SVDiff's utils_svd.py and
// LyCORIS do), and each method builds its update ΔW in that view:
//   low rank   ΔW = B A                       (LoRA, DyLoRA)      B: [out, r], A: [r, in]
//   Hadamard   ΔW = (B1 A1) ⊙ (B2 A2)         (LoHa / FedPara)
//   Kronecker  ΔW = W1 ⊗ W2, W2 = B A or full (LoKr)
//   spectral   W' = U diag(relu(σ + δ)) Vᵀ    (SVDiff)
// On the meta device only shapes exist: the *_shape / *_count helpers are the
// single source of the sizes both the counting path and the real path use.
#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace pbench::peft {

// [out, in*kh*kw] for a 2-D or 4-D weight; InputError-free (callers select layers by kind).
std::pair<int64_t, int64_t> matrix_shape(const torch::Tensor& weight);
torch::Tensor as_matrix(const torch::Tensor& weight);
// Reshapes a matrix-view update back to the layer's weight shape.
torch::Tensor to_weight_shape(const torch::Tensor& matrix, const torch::Tensor& weight);

// ---- low rank --------------------------------------------------------------
// up [out, r] · down [r, in].
torch::Tensor low_rank_product(const torch::Tensor& up, const torch::Tensor& down);
// x ↦ up(down(x)) for x [..., in] without forming ΔW (cheaper than a weight
// rewrite for the backward pass of a Linear: N·r·(in+out) instead of N·in·out).
torch::Tensor low_rank_apply(const torch::Tensor& x, const torch::Tensor& up, const torch::Tensor& down);

// ---- Hadamard (FedPara) -----------------------------------------------------
torch::Tensor hadamard_low_rank(const torch::Tensor& up1, const torch::Tensor& down1, const torch::Tensor& up2,
                                const torch::Tensor& down2);

// ---- Kronecker (LoKr) -------------------------------------------------------
// Splits `dim` = m·n with m <= n. factor > 0 and dividing dim: m = min(factor, dim/factor).
// Otherwise (factor <= 0, or not a divisor) the most balanced split with
// m <= |factor| (factor <= 0: no bound), i.e. m close to sqrt(dim) — LyCORIS'
// `factorization()` rule, so factor -1 gives the "small LoKr" shapes.
std::pair<int64_t, int64_t> split_dimension(int64_t dim, int64_t factor);

struct KroneckerShapes {
  int64_t w1_rows = 0, w1_cols = 0;  // the small full factor W1
  int64_t w2_rows = 0, w2_cols = 0;  // the large factor W2 (columns include kh*kw for convs)
  bool w2_full = false;              // W2 stored whole (rank too large to pay off) or as B A
  int64_t rank = 0;
  int64_t parameter_count() const;
};
// out = w1_rows·w2_rows, in = w1_cols·(w2_cols / kernel) for a weight [out, in, kh, kw];
// W2 is full when rank >= max(w2_rows, w2_cols)/2 (LyCORIS' rule: low rank would not save).
KroneckerShapes kronecker_shapes(const torch::Tensor& weight, int64_t factor, int64_t rank);
torch::Tensor kronecker(const torch::Tensor& a, const torch::Tensor& b);

// ---- spectral (SVDiff) ------------------------------------------------------
// Number of singular values of the matrix view: min(out, in*kh*kw).
int64_t spectral_length(const torch::Tensor& weight);

// ---- initialisation -----------------------------------------------------------
// torch.nn.Linear's kaiming_uniform_(a=sqrt(5)) (what PEFT uses for lora_A), drawn
// from `gen` (the run's method-init stream, MethodTarget::generator); a no-op on
// the meta device.
void kaiming_uniform_init(torch::Tensor& t, torch::Generator& gen);
void normal_init(torch::Tensor& t, double std, torch::Generator& gen);

}  // namespace pbench::peft
