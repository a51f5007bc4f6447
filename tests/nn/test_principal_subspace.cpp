// The principal subspace (framework/tensor/principal_subspace.hpp) against the eigenvectors of
// the sample covariance, computed here independently.
#define BOOST_TEST_MODULE principal_subspace
#include <boost/test/unit_test.hpp>

#include "framework/tensor/principal_subspace.hpp"

using namespace pbench;

namespace {
// 400 rows in 6 dimensions with variances 25, 9, 4, 1, 0.25, 0.01 along a random rotation, shifted.
torch::Tensor table() {
  torch::manual_seed(7);
  torch::Tensor q = std::get<0>(torch::linalg_qr(torch::randn({6, 6}, torch::kDouble)));
  torch::Tensor scales = torch::tensor({5.0, 3.0, 2.0, 1.0, 0.5, 0.1}, torch::kDouble);
  return (torch::randn({400, 6}, torch::kDouble) * scales).matmul(q.t()) + torch::arange(6, torch::kDouble);
}
}  // namespace

BOOST_AUTO_TEST_CASE(components_are_the_covariances_top_eigenvectors) {
  const torch::Tensor t = table();
  const PrincipalSubspace p = principal_subspace(t, 3);
  BOOST_TEST(torch::allclose(p.mean, t.mean(0)));
  const torch::Tensor centred = t - t.mean(0);
  const torch::Tensor cov = centred.t().matmul(centred) / double(t.size(0) - 1);
  auto [values, vectors] = torch::linalg_eigh(cov);  // ascending
  for (int64_t i = 0; i < 3; ++i) {
    const torch::Tensor expected = vectors.select(1, 5 - i);
    BOOST_TEST(p.variances[i].item<double>() == values[5 - i].item<double>(), boost::test_tools::tolerance(1e-9));
    // The same direction up to sign, and the sign rule: the largest-magnitude entry is positive.
    BOOST_TEST(std::abs(p.components[i].dot(expected).item<double>()) == 1.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(p.components[i][p.components[i].abs().argmax().item<int64_t>()].item<double>() > 0);
  }
  BOOST_TEST(torch::allclose(p.components.matmul(p.components.t()), torch::eye(3, torch::kDouble), 1e-9, 1e-12));
}

BOOST_AUTO_TEST_CASE(transform_and_inverse_transform_are_sklearns) {
  const torch::Tensor t = table();
  const PrincipalSubspace full = principal_subspace(t, 5);
  // z = 0 is the mean row; a row's coordinates map back to its projection.
  BOOST_TEST(torch::allclose(full.to_table_space(torch::zeros({5}, torch::kDouble)), t.mean(0)));
  const torch::Tensor z = full.to_subspace(t);
  BOOST_TEST((z.sizes() == std::vector<int64_t>{400, 5}));
  // What 5 of 6 directions lose is the smallest variance: mean squared residual x (N-1)/N.
  const torch::Tensor residual = t - full.to_table_space(z);
  const double lost = residual.pow(2).sum(1).mean().item<double>() * 400.0 / 399.0;
  const torch::Tensor centred = t - t.mean(0);
  const double smallest = torch::linalg_eigvalsh(centred.t().matmul(centred) / 399.0)[0].item<double>();
  BOOST_TEST(lost == smallest, boost::test_tools::tolerance(1e-9));
  BOOST_CHECK_THROW(principal_subspace(t, 7), std::invalid_argument);
  BOOST_CHECK_THROW(principal_subspace(t, 0), std::invalid_argument);
}
