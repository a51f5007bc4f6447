#include "framework/train/cma_es.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>

namespace pbench {

CmaEs::CmaEs(torch::Tensor mean, CmaEsOptions options) : sigma_(options.sigma) {
  if (mean.dim() != 1 || mean.size(0) < 1) throw std::invalid_argument("CMA-ES: the mean must be a non-empty vector");
  if (!(options.sigma > 0) || !std::isfinite(options.sigma)) throw std::invalid_argument("CMA-ES: sigma must be > 0");
  mean_ = mean.detach().to(torch::kDouble).clone();
  const int64_t n = mean_.size(0);
  lambda_ = options.population > 0 ? options.population : 4 + int64_t(std::floor(3.0 * std::log(double(n))));
  if (lambda_ < 2) throw std::invalid_argument("CMA-ES: a population of at least 2");
  mu_ = lambda_ / 2;
  // w'_i = ln((lambda + 1) / 2) - ln(i), i = 1..mu, normalized to sum 1 (the tutorial's positive weights).
  std::vector<double> w(static_cast<size_t>(mu_));
  for (int64_t i = 0; i < mu_; ++i) w[size_t(i)] = std::log((double(lambda_) + 1.0) / 2.0) - std::log(double(i + 1));
  const double sum = std::accumulate(w.begin(), w.end(), 0.0);
  double squares = 0;
  for (double& v : w) {
    v /= sum;
    squares += v * v;
  }
  weights_ = torch::tensor(w, torch::kDouble);
  mu_eff_ = 1.0 / squares;
  p_sigma_ = torch::zeros({n}, torch::kDouble);
  p_c_ = torch::zeros({n}, torch::kDouble);
  cov_ = torch::eye(n, torch::kDouble);
  basis_ = torch::eye(n, torch::kDouble);
  scales_ = torch::ones({n}, torch::kDouble);
  set_constants();
}

void CmaEs::set_constants() {
  const double n = double(dimension()), me = mu_eff_;
  c_c_ = (4.0 + me / n) / (n + 4.0 + 2.0 * me / n);
  c_sigma_ = (me + 2.0) / (n + me + 5.0);
  c_1_ = 2.0 / ((n + 1.3) * (n + 1.3) + me);
  c_mu_ = std::min(1.0 - c_1_, 2.0 * (me - 2.0 + 1.0 / me) / ((n + 2.0) * (n + 2.0) + me));
  d_sigma_ = 1.0 + 2.0 * std::max(0.0, std::sqrt((me - 1.0) / (n + 1.0)) - 1.0) + c_sigma_;
  chi_n_ = std::sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));  // E||N(0, I)||
}

void CmaEs::decompose() {
  cov_ = (cov_ + cov_.t()) / 2.0;  // keep it symmetric against round-off
  auto [eigenvalues, eigenvectors] = torch::linalg_eigh(cov_);
  scales_ = eigenvalues.clamp_min(1e-300).sqrt();
  basis_ = eigenvectors;
}

torch::Tensor CmaEs::ask(torch::Generator& gen) {
  asked_z_ = torch::randn({lambda_, dimension()}, gen, torch::kDouble);
  torch::Tensor y = (asked_z_ * scales_).matmul(basis_.t());  // rows: B D z
  asked_ = mean_ + sigma_ * y;
  return asked_;
}

void CmaEs::tell(const std::vector<double>& fitness) {
  if (!asked_.defined()) throw std::logic_error("CMA-ES: tell() without ask()");
  if (int64_t(fitness.size()) != lambda_)
    throw std::invalid_argument("CMA-ES: " + std::to_string(fitness.size()) + " fitness values for a generation of " +
                                std::to_string(lambda_));
  for (double f : fitness)
    if (std::isnan(f)) throw std::invalid_argument("CMA-ES: a fitness value is NaN");
  std::vector<int64_t> order(static_cast<size_t>(lambda_));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return fitness[size_t(a)] < fitness[size_t(b)]; });
  if (fitness[size_t(order[0])] < best_fitness_) {
    best_fitness_ = fitness[size_t(order[0])];
    best_ = asked_[order[0]].clone();
  }
  const double n = double(dimension());
  torch::Tensor chosen = asked_.index_select(0, torch::tensor(std::vector<int64_t>(order.begin(), order.begin() + mu_)));
  torch::Tensor y = (chosen - mean_) / sigma_;                     // [mu, n]
  torch::Tensor y_w = (weights_.unsqueeze(1) * y).sum(0);          // the step of the mean, in sigma units
  mean_ = mean_ + sigma_ * y_w;
  // C^(-1/2) y_w = B D^-1 B^T y_w
  torch::Tensor whitened = basis_.matmul(basis_.t().matmul(y_w) / scales_);
  p_sigma_ = (1.0 - c_sigma_) * p_sigma_ + std::sqrt(c_sigma_ * (2.0 - c_sigma_) * mu_eff_) * whitened;
  const double ps_norm = p_sigma_.norm().item<double>();
  const double correction = std::sqrt(1.0 - std::pow(1.0 - c_sigma_, 2.0 * double(generation_ + 1)));
  const bool h_sigma = ps_norm / correction < (1.4 + 2.0 / (n + 1.0)) * chi_n_;
  p_c_ = (1.0 - c_c_) * p_c_ + (h_sigma ? std::sqrt(c_c_ * (2.0 - c_c_) * mu_eff_) : 0.0) * y_w;
  const double delta_h = h_sigma ? 0.0 : c_c_ * (2.0 - c_c_);
  torch::Tensor rank_mu = (weights_.unsqueeze(1) * y).t().matmul(y);  // sum_i w_i y_i y_i^T
  cov_ = (1.0 + c_1_ * delta_h - c_1_ - c_mu_) * cov_ + c_1_ * torch::outer(p_c_, p_c_) + c_mu_ * rank_mu;
  sigma_ *= std::exp((c_sigma_ / d_sigma_) * (ps_norm / chi_n_ - 1.0));
  ++generation_;
  decompose();
  asked_ = torch::Tensor();
}

void CmaEs::expand(int64_t dimension) {
  const int64_t n = this->dimension();
  if (dimension < n) throw std::invalid_argument("CMA-ES: expand() cannot shrink the search");
  if (dimension == n) return;
  const int64_t k = dimension - n;
  mean_ = torch::cat({mean_, torch::zeros({k}, torch::kDouble)});
  p_sigma_ = torch::cat({p_sigma_, torch::zeros({k}, torch::kDouble)});
  p_c_ = torch::cat({p_c_, torch::zeros({k}, torch::kDouble)});
  torch::Tensor grown = torch::zeros({dimension, dimension}, torch::kDouble);
  grown.slice(0, 0, n).slice(1, 0, n).copy_(cov_);
  grown.slice(0, n, dimension).slice(1, n, dimension).copy_(torch::eye(k, torch::kDouble));
  cov_ = grown;
  if (best_.defined()) best_ = torch::cat({best_, torch::zeros({k}, torch::kDouble)});
  set_constants();
  decompose();
  asked_ = torch::Tensor();
}

}  // namespace pbench
