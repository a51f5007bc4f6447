#include "framework/tensor/principal_subspace.hpp"

#include <stdexcept>
#include <string>

namespace pbench {

torch::Tensor PrincipalSubspace::to_table_space(const torch::Tensor& z) const {
  return mean + z.to(components.dtype()).matmul(components);
}

torch::Tensor PrincipalSubspace::to_subspace(const torch::Tensor& x) const {
  return (x.to(components.dtype()) - mean).matmul(components.t());
}

PrincipalSubspace principal_subspace(const torch::Tensor& table, int64_t k) {
  if (table.dim() != 2 || table.size(0) < 2) throw std::invalid_argument("PCA: expected a table of at least 2 rows");
  const int64_t n = table.size(0), d = table.size(1);
  if (k < 1 || k > std::min(n - 1, d))
    throw std::invalid_argument("PCA: k = " + std::to_string(k) + " is outside 1.." + std::to_string(std::min(n - 1, d)) +
                                " for a " + std::to_string(n) + " x " + std::to_string(d) + " table");
  torch::NoGradGuard no_grad;
  const torch::Tensor rows = table.detach().to(torch::kDouble);
  PrincipalSubspace p;
  p.mean = rows.mean(0);
  auto [u, s, vh] = torch::linalg_svd(rows - p.mean, /*full_matrices=*/false);
  torch::Tensor top = vh.slice(0, 0, k);
  // A fixed sign per direction: its largest-magnitude entry positive.
  torch::Tensor pivot = top.gather(1, top.abs().argmax(1, /*keepdim=*/true));
  p.components = (top * pivot.sign()).contiguous();
  p.variances = s.slice(0, 0, k).pow(2) / double(n - 1);
  return p;
}

}  // namespace pbench
