#pragma once
// The top-k principal subspace of a table's rows: what sklearn's PCA(k) fits, and where
// gradient-free Textual Inversion (arXiv 2304.05818) searches a token embedding (k = 256 of
// CLIP's 768, fitted on the whole token-embedding table; the reference's embedding is
// inverse_transform(z) + p0).
#include <cstdint>

#include "framework/torch_pch.hpp"

namespace pbench {

struct PrincipalSubspace {
  torch::Tensor mean;        // [d], the mean row
  torch::Tensor components;  // [k, d], orthonormal rows by decreasing variance; each one's
                             // largest-magnitude entry is positive (a fixed sign, as svd_flip)
  torch::Tensor variances;   // [k], the variance along each (ddof 1, sklearn's explained_variance_)
  // sklearn's inverse_transform: mean + z @ components, z [..., k] -> [..., d].
  torch::Tensor to_table_space(const torch::Tensor& z) const;
  // sklearn's transform: (x - mean) @ components^T, x [..., d] -> [..., k].
  torch::Tensor to_subspace(const torch::Tensor& x) const;
};

// The subspace of the rows of `table` ([N, d], N >= 2), computed in double precision by an SVD
// of the centred table. std::invalid_argument unless 1 <= k <= min(N - 1, d).
PrincipalSubspace principal_subspace(const torch::Tensor& table, int64_t k);

}  // namespace pbench
