// CMA-ES (framework/train/cma_es.hpp) against Hansen's tutorial (arXiv 1604.00772): its
// default weights, and that it solves the problems it is known to solve, the ill-conditioned
// ellipsoid only by adapting its covariance.
#define BOOST_TEST_MODULE cma_es
#include <boost/test/unit_test.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "framework/train/cma_es.hpp"

using namespace pbench;

namespace {
torch::Generator generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

double sphere(const torch::Tensor& x) { return x.pow(2).sum().item<double>(); }

// f(x) = sum_i 10^(6 (i - 1) / (n - 1)) x_i^2: condition number 10^6.
double ellipsoid(const torch::Tensor& x) {
  const int64_t n = x.size(0);
  double f = 0;
  for (int64_t i = 0; i < n; ++i) f += std::pow(10.0, 6.0 * double(i) / double(n - 1)) * std::pow(x[i].item<double>(), 2);
  return f;
}

template <class F>
double minimize(CmaEs& es, F f, int generations, torch::Generator& gen) {
  for (int g = 0; g < generations; ++g) {
    torch::Tensor xs = es.ask(gen);
    std::vector<double> fitness;
    for (int64_t k = 0; k < xs.size(0); ++k) fitness.push_back(f(xs[k]));
    es.tell(fitness);
  }
  return es.best_fitness();
}
}  // namespace

BOOST_AUTO_TEST_CASE(default_population_and_weights_are_the_tutorials) {
  CmaEs es(torch::zeros({256}), CmaEsOptions{20, 1.0});  // the paper's: n 256, lambda 20, sigma 1
  BOOST_TEST(es.population() == 20);
  BOOST_REQUIRE(es.weights().size(0) == 10);  // mu = lambda / 2
  double sum = 0, squares = 0;
  for (int i = 0; i < 10; ++i) {
    const double w = es.weights()[i].item<double>();
    const double expected_unnormalized = std::log(10.5) - std::log(i + 1.0);
    BOOST_TEST(w > 0);
    if (i > 0) BOOST_TEST(w < es.weights()[i - 1].item<double>());
    BOOST_TEST(w / es.weights()[0].item<double>() == expected_unnormalized / std::log(10.5), boost::test_tools::tolerance(1e-12));
    sum += w;
    squares += w * w;
  }
  BOOST_TEST(sum == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(es.mu_eff() == 1.0 / squares, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(CmaEs(torch::zeros({10}), CmaEsOptions{}).population() == 4 + 6);  // 4 + floor(3 ln 10)
}

BOOST_AUTO_TEST_CASE(it_solves_the_sphere_and_is_a_function_of_its_generator) {
  auto run = [](uint64_t seed) {
    CmaEs es(torch::full({10}, 3.0), CmaEsOptions{});
    torch::Generator gen = generator(seed);
    const double best = minimize(es, sphere, 250, gen);
    return std::make_pair(best, es.mean().clone());
  };
  auto [best, mean] = run(1);
  BOOST_TEST(best < 1e-12, "best " << best);
  auto [again, mean_again] = run(1);
  BOOST_TEST(again == best);
  BOOST_TEST(torch::equal(mean, mean_again));
  BOOST_TEST(run(2).first != best);
}

BOOST_AUTO_TEST_CASE(it_learns_the_ellipsoids_shape_in_its_covariance) {
  const int64_t n = 8;
  CmaEs es(torch::ones({n}), CmaEsOptions{});
  torch::Generator gen = generator(3);
  const double best = minimize(es, ellipsoid, 600, gen);
  BOOST_TEST(best < 1e-10, "best " << best);
  // The covariance approaches the inverse Hessian: variances fall along the steep axes, by
  // about the condition number 10^6 between the first and the last.
  const double ratio = es.covariance()[0][0].item<double>() / es.covariance()[n - 1][n - 1].item<double>();
  BOOST_TEST(ratio > 1e4, "C_11 / C_nn = " << ratio);
}

BOOST_AUTO_TEST_CASE(expanding_keeps_what_was_learned_and_goes_on_improving) {
  CmaEs es(torch::full({4}, 2.0), CmaEsOptions{8, 0.5});
  torch::Generator gen = generator(4);
  auto shifted = [](const torch::Tensor& x) { return (x - 1.0).pow(2).sum().item<double>(); };
  minimize(es, shifted, 40, gen);
  const torch::Tensor mean = es.mean().clone(), cov = es.covariance().clone();
  es.expand(8);
  BOOST_TEST(es.dimension() == 8);
  BOOST_TEST(torch::allclose(es.mean().slice(0, 0, 4), mean));
  BOOST_TEST(es.mean().slice(0, 4, 8).abs().max().item<double>() == 0.0);
  BOOST_TEST(torch::allclose(es.covariance().slice(0, 0, 4).slice(1, 0, 4), cov));
  BOOST_TEST(torch::allclose(es.covariance().slice(0, 4, 8).slice(1, 4, 8), torch::eye(4, torch::kDouble)));
  BOOST_TEST(es.covariance().slice(0, 0, 4).slice(1, 4, 8).abs().max().item<double>() == 0.0);
  const double at_expansion = shifted(es.mean());
  minimize(es, shifted, 300, gen);
  BOOST_TEST(shifted(es.mean()) < 1e-8 * std::max(1.0, at_expansion), "f(mean) " << shifted(es.mean()));
  BOOST_CHECK_THROW(es.expand(4), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_wrong_tell_is_refused) {
  CmaEs es(torch::zeros({3}), CmaEsOptions{6, 1.0});
  BOOST_CHECK_THROW(es.tell(std::vector<double>(6, 0.0)), std::logic_error);  // no ask yet
  torch::Generator gen = generator(5);
  es.ask(gen);
  BOOST_CHECK_THROW(es.tell(std::vector<double>(5, 0.0)), std::invalid_argument);
  BOOST_CHECK_THROW(es.tell(std::vector<double>(6, std::nan(""))), std::invalid_argument);
  BOOST_CHECK_THROW(CmaEs(torch::zeros({3}), CmaEsOptions{6, 0.0}), std::invalid_argument);
}
