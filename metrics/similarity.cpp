#include "metrics/similarity.hpp"

#include "framework/util/errors.hpp"

namespace pbench::metrics {

namespace {

torch::Tensor unit_rows(const torch::Tensor& x, const std::string& what, const char* side) {
  if (x.dim() != 2)
    throw InputError(what + ": " + side + " embeddings: expected [N, D], got " + std::to_string(x.dim()) + " dims");
  torch::Tensor d = x.to(torch::kFloat64);
  torch::Tensor norms = d.norm(2, {1}, true);
  // A zero embedding has no direction: its cosine would be NaN and silently poison every mean.
  if (d.size(0) > 0 && norms.min().item<double>() == 0.0)
    throw InputError(what + ": " + side + " embeddings: a row has zero length (no direction to compare)");
  return d / norms;
}

void check_widths(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  if (a.size(1) != b.size(1))
    throw InputError(what + ": embedding widths differ: " + std::to_string(a.size(1)) + " vs " +
                     std::to_string(b.size(1)));
}

}  // namespace

torch::Tensor cosine_matrix(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  torch::Tensor ua = unit_rows(a, what, "first"), ub = unit_rows(b, what, "second");
  check_widths(ua, ub, what);
  return torch::mm(ua, ub.t());
}

torch::Tensor paired_cosine(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  torch::Tensor ua = unit_rows(a, what, "first"), ub = unit_rows(b, what, "second");
  check_widths(ua, ub, what);
  if (ua.size(0) != ub.size(0))
    throw InputError(what + ": expected as many rows on both sides, got " + std::to_string(ua.size(0)) + " and " +
                     std::to_string(ub.size(0)));
  return (ua * ub).sum(1);
}

torch::Tensor mean_cosine_to_reals(const torch::Tensor& generated, const torch::Tensor& real, const std::string& what) {
  if (real.size(0) < 1) throw InputError(what + ": expected at least 1 real image, got none");
  return cosine_matrix(generated, real, what).mean(1);
}

double mean_cosine_between_distinct(const torch::Tensor& real, const std::string& what) {
  const int64_t m = real.dim() == 2 ? real.size(0) : 0;
  if (m < 2) throw InputError(what + ": real-vs-real baseline: expected at least 2 real images, got " + std::to_string(m));
  torch::Tensor c = cosine_matrix(real, real, what);
  // The diagonal (each image with itself, cosine 1) is excluded.
  double off_diagonal = c.sum().item<double>() - c.diagonal().sum().item<double>();
  return off_diagonal / double(m * (m - 1));
}

}  // namespace pbench::metrics
