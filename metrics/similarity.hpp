#pragma once
// The arithmetic of CLIP-I, CLIP-T and DINO on embeddings, in float64 so the
// means do not depend on summation order at float32 precision. Raw cosines
// (no x100, no clamping at 0), as the DreamBooth paper reports them.
#include <torch/torch.h>

#include <string>

namespace pbench::metrics {

// Cosine of every row of a [N, D] with every row of b [M, D] -> float64 [N, M].
// InputError (naming `what`) for mismatched widths or a zero-length row.
torch::Tensor cosine_matrix(const torch::Tensor& a, const torch::Tensor& b, const std::string& what);

// Row-wise cosine of a [N, D] and b [N, D] -> float64 [N].
torch::Tensor paired_cosine(const torch::Tensor& a, const torch::Tensor& b, const std::string& what);

// Per generated image, the mean cosine to every real image -> float64 [N].
// The mean of this vector is the all-pairs (generated x real) mean, because
// every generated image has the same number of real partners.
torch::Tensor mean_cosine_to_reals(const torch::Tensor& generated, const torch::Tensor& real, const std::string& what);

// Real-vs-real baseline: mean cosine over all ordered pairs (i, j), i != j.
// InputError with fewer than 2 images (no pair to average).
double mean_cosine_between_distinct(const torch::Tensor& real, const std::string& what);

}  // namespace pbench::metrics
