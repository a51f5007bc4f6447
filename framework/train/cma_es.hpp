#pragma once
// CMA-ES, the covariance matrix adaptation evolution strategy (Hansen & Ostermeier 2001; the
// formulas and default constants of Hansen's tutorial, arXiv 1604.00772, Table 1 and Fig. 6),
// written here for gradient-free Textual Inversion (arXiv 2304.05818: a 256-d search from 0 with
// sigma 1 and 20 candidates per generation). Ask / tell: `ask()` draws a generation of
// candidates, the caller evaluates them (forward passes only), `tell()` updates the mean, the
// step size, the two evolution paths and the full covariance from their ranks. Deterministic
// for a given generator. Minimizes.
//
// Dimension expansion (the paper's search grows its subspace over time): `expand(n')` appends
// n' - n coordinates at 0 with the current step size and an identity block in the covariance,
// keeping what was learned about the first n, and recomputes the dimension-dependent constants.
#include <cstdint>
#include <limits>
#include <vector>

#include "framework/torch_pch.hpp"

namespace pbench {

struct CmaEsOptions {
  int64_t population = 0;  // lambda; 0 = 4 + floor(3 ln n), the tutorial's default
  double sigma = 1.0;      // initial step size
};

class CmaEs {
 public:
  // Starts at `mean` (a 1-d double tensor of the search's dimension n).
  CmaEs(torch::Tensor mean, CmaEsOptions options);

  // The next generation: [lambda, n] candidates m + sigma * B D z, z ~ N(0, I) from `gen`.
  torch::Tensor ask(torch::Generator& gen);
  // Their fitness (lower is better), one per row of the last ask(); updates the distribution.
  void tell(const std::vector<double>& fitness);
  // Grows the search to `dimension` coordinates (>= n), the new ones at 0.
  void expand(int64_t dimension);

  const torch::Tensor& mean() const { return mean_; }
  double sigma() const { return sigma_; }
  const torch::Tensor& covariance() const { return cov_; }
  int64_t dimension() const { return mean_.size(0); }
  int64_t population() const { return lambda_; }
  int64_t generation() const { return generation_; }
  const torch::Tensor& weights() const { return weights_; }  // recombination weights, positive, sum 1
  double mu_eff() const { return mu_eff_; }
  // The best candidate told so far and its fitness.
  const torch::Tensor& best() const { return best_; }
  double best_fitness() const { return best_fitness_; }

 private:
  void set_constants();
  void decompose();  // B, D from C (eigendecomposition), every generation

  int64_t lambda_ = 0, mu_ = 0, generation_ = 0;
  torch::Tensor weights_;
  double mu_eff_ = 0, c_sigma_ = 0, d_sigma_ = 0, c_c_ = 0, c_1_ = 0, c_mu_ = 0, chi_n_ = 0;
  torch::Tensor mean_, p_sigma_, p_c_, cov_, basis_, scales_;  // C = B diag(D^2) B^T
  double sigma_ = 1.0;
  torch::Tensor asked_, asked_z_;  // the last generation: x and z
  torch::Tensor best_;
  double best_fitness_ = std::numeric_limits<double>::infinity();
};

}  // namespace pbench
