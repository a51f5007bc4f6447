#include "methods/factorizations.hpp"

#include <cmath>

namespace pbench::peft {

std::pair<int64_t, int64_t> matrix_shape(const torch::Tensor& weight) {
  int64_t cols = 1;
  for (int64_t d = 1; d < weight.dim(); ++d) cols *= weight.size(d);
  return {weight.size(0), cols};
}

torch::Tensor as_matrix(const torch::Tensor& weight) { return weight.reshape({weight.size(0), -1}); }

torch::Tensor to_weight_shape(const torch::Tensor& matrix, const torch::Tensor& weight) {
  return matrix.reshape(weight.sizes());
}

torch::Tensor low_rank_product(const torch::Tensor& up, const torch::Tensor& down) { return up.matmul(down); }

torch::Tensor low_rank_apply(const torch::Tensor& x, const torch::Tensor& up, const torch::Tensor& down) {
  namespace F = torch::nn::functional;
  return F::linear(F::linear(x, down), up);
}

torch::Tensor hadamard_low_rank(const torch::Tensor& up1, const torch::Tensor& down1, const torch::Tensor& up2,
                                const torch::Tensor& down2) {
  return up1.matmul(down1) * up2.matmul(down2);
}

std::pair<int64_t, int64_t> split_dimension(int64_t dim, int64_t factor) {
  if (factor > 0 && dim % factor == 0) {
    int64_t m = factor, n = dim / factor;
    return m <= n ? std::make_pair(m, n) : std::make_pair(n, m);
  }
  const int64_t bound = factor > 0 ? factor : dim;
  int64_t m = 1, n = dim;
  // Walk divisors upwards while the split gets more balanced (m + n shrinks).
  for (int64_t cand = 2; cand * cand <= dim && cand <= bound; ++cand) {
    if (dim % cand != 0) continue;
    if (cand + dim / cand > m + n) break;
    m = cand;
    n = dim / cand;
  }
  return {m, n};
}

int64_t KroneckerShapes::parameter_count() const {
  return w1_rows * w1_cols + (w2_full ? w2_rows * w2_cols : rank * (w2_rows + w2_cols));
}

KroneckerShapes kronecker_shapes(const torch::Tensor& weight, int64_t factor, int64_t rank) {
  const int64_t out = weight.size(0), in = weight.size(1);
  int64_t kernel = 1;
  for (int64_t d = 2; d < weight.dim(); ++d) kernel *= weight.size(d);
  auto [out_small, out_large] = split_dimension(out, factor);
  auto [in_small, in_large] = split_dimension(in, factor);
  KroneckerShapes s;
  s.w1_rows = out_small;
  s.w1_cols = in_small;
  s.w2_rows = out_large;
  s.w2_cols = in_large * kernel;  // the kernel stays inside W2, so W1 ⊗ W2 is the matrix view
  s.rank = rank;
  s.w2_full = rank >= std::max(s.w2_rows, s.w2_cols) / 2;
  return s;
}

torch::Tensor kronecker(const torch::Tensor& a, const torch::Tensor& b) { return torch::kron(a, b); }

int64_t spectral_length(const torch::Tensor& weight) {
  auto [rows, cols] = matrix_shape(weight);
  return std::min(rows, cols);
}

void kaiming_uniform_init(torch::Tensor& t, torch::Generator& gen) {
  if (t.device().type() == torch::kMeta) return;
  // torch::nn::init::kaiming_uniform_ (fan_in, leaky_relu) computed step by step as it
  // does, so the values equal its draws from a generator in the same state; it takes
  // no generator of its own.
  const double a = std::sqrt(5.0);
  int64_t fan_in = t.size(1);
  for (int64_t d = 2; d < t.dim(); ++d) fan_in *= t.size(d);
  const double gain = std::sqrt(2.0 / (1 + a * a));
  const double std_dev = gain / std::sqrt(double(fan_in));
  const double bound = std::sqrt(3.0) * std_dev;
  torch::NoGradGuard no_grad;
  t.uniform_(-bound, bound, gen);
}

void normal_init(torch::Tensor& t, double std, torch::Generator& gen) {
  if (t.device().type() == torch::kMeta) return;
  torch::NoGradGuard no_grad;
  t.normal_(0.0, std, gen);
}

}  // namespace pbench::peft
