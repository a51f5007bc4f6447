#pragma once
// Custom Diffusion's multi-concept merge by constrained optimization (Kumari et al., arXiv
// 2212.04488 §3.2, eq. 4 and its closed form; official code: src/composenW.py). For one
// cross-attention K or V projection, W0 the base weight [out, d], C_reg [N, d] the text features
// of regularization captions and C [s, d] the features of every concept's target phrases, V
// [s, out] each row's output under its own concept's fine-tuned weight:
//   Ŵ = argmin_W ‖(W − W0) C_regᵀ‖_F  subject to  W Cᵀ = Vᵀ
//     = W0 + (Vᵀ − W0 Cᵀ)(d Cᵀ)⁻¹ d,   d = C (C_regᵀ C_reg)⁻¹.
// Every concept keeps its own keys/values on its own phrases exactly, and the base's outputs on
// ordinary captions move as little as those constraints allow (a weighted sum of the deltas
// keeps neither).
#include <torch/torch.h>

#include <vector>

namespace pbench::peft {

// (C_regᵀ C_reg + λ I)⁻¹ [d, d] in float64 with λ = relative_ridge · tr(C_regᵀ C_reg) / d.
// composenW.py inverts C_regᵀ C_reg as it is (LU); a text encoder's final LayerNorm leaves it
// nearly singular (methods/text_covariance.hpp), so a ridge is available (custom_diffusion.cpp
// chooses it). The ridge changes only which solution the objective prefers: the constraints
// stay exact.
torch::Tensor regularization_gram_inverse(const torch::Tensor& reg_features, double relative_ridge);

// Ŵ above, computed in float64 and returned in `base`'s dtype and device. `targets` C [s, d],
// `values` V [s, out]; C must have full row rank (distinct_rows drops exact repeats).
torch::Tensor constrained_merge(const torch::Tensor& base, const torch::Tensor& targets, const torch::Tensor& values,
                                const torch::Tensor& gram_inverse);

// Indices of the rows of `features` [s, d] that repeat no earlier row exactly: composenW.py drops
// such repeats (two concepts of one class without modifier tokens), which would make d Cᵀ singular.
std::vector<int64_t> distinct_rows(const torch::Tensor& features);

}  // namespace pbench::peft
