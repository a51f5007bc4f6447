#include "methods/constrained_merge.hpp"

#include "framework/util/errors.hpp"

namespace pbench::peft {

torch::Tensor regularization_gram_inverse(const torch::Tensor& reg_features, double relative_ridge) {
  if (reg_features.dim() != 2 || reg_features.size(0) == 0)
    throw InputError("constrained merge: no regularization features");
  const torch::Tensor c = reg_features.to(torch::kCPU, torch::kFloat64);
  torch::Tensor gram = c.t().matmul(c);
  const int64_t d = gram.size(0);
  if (relative_ridge > 0) gram = gram + torch::eye(d, gram.options()) * (relative_ridge * gram.trace().item<double>() / double(d));
  return torch::inverse(gram);
}

torch::Tensor constrained_merge(const torch::Tensor& base, const torch::Tensor& targets, const torch::Tensor& values,
                                const torch::Tensor& gram_inverse) {
  const torch::Tensor w0 = base.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor c = targets.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor v = values.to(torch::kCPU, torch::kFloat64);
  if (c.size(1) != w0.size(1) || v.size(0) != c.size(0) || v.size(1) != w0.size(0))
    throw InputError("constrained merge: shapes disagree (base " + std::to_string(w0.size(0)) + "x" +
                     std::to_string(w0.size(1)) + ", " + std::to_string(c.size(0)) + " targets of width " +
                     std::to_string(c.size(1)) + ", values " + std::to_string(v.size(0)) + "x" +
                     std::to_string(v.size(1)) + ")");
  const torch::Tensor d = c.matmul(gram_inverse.to(torch::kFloat64));  // [s, d]
  const torch::Tensor residual = v.t() - w0.matmul(c.t());              // [out, s]: what the constraints add
  // residual (d Cᵀ)⁻¹ as a solve: (d Cᵀ)ᵀ Xᵀ = residualᵀ.
  const torch::Tensor x = at::linalg_solve(d.matmul(c.t()).t(), residual.t()).t();
  return (w0 + x.matmul(d)).to(base.options());
}

std::vector<int64_t> distinct_rows(const torch::Tensor& features) {
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < features.size(0); ++i) {
    bool repeat = false;
    for (int64_t j : keep)
      if (torch::equal(features[i], features[j])) {
        repeat = true;
        break;
      }
    if (!repeat) keep.push_back(i);
  }
  return keep;
}

}  // namespace pbench::peft
