#pragma once
// DVAR (Voronov et al., "Is This Loss Informative?", arXiv 2302.04841):
// early stopping on a deterministic objective. The objective is the
// ε-prediction MSE on one frozen evaluation batch (images, one VAE latent
// sample, one noise tensor, distinct timesteps, captions), evaluated without
// gradients at steps 1, 1 + every, … on the weights the step starts from:
// before its optimizer update, where yandex-research/DVAR evaluates it (after
// backward, before optimizer.step(), when global_step % every == 0 with
// global_step = updates done), so step 1's value is the initial weights'.
// Stop rule (the reference's VarEarlyStopper): with the whole history H of
// objective values, once |H| >= N, stop when var(last N) / var(H) < α
// (population variances, as numpy's default ddof=0). Before the window fills
// the ratio is 1; a constant history's ratio is NaN (0 / 0) and never stops.
// The step that fires still takes its update, as the reference's does.
#include <cstdint>
#include <deque>

#include "framework/config/options.hpp"
#include "framework/train/stop_mode.hpp"

namespace pbench {

// A run config's `dvar` section.
struct DvarOptions {
  StopMode mode = StopMode::monitor;
  int64_t window = 200;
  double threshold = 0.15;
  int64_t every = 1;
  int64_t eval_batch_size = 4;

  template <class V>
  void fields(V& v) {
    v("mode", mode, "monitor: record the stop step and train on; stop: end training there; off: no objective");
    v("window", window, "N: the stop rule compares the variance of the last N objective values with all's",
      cfg::at_least(2));
    v("threshold", threshold, "alpha: stop when var(last N) / var(all) < alpha (paper: 0.15)");
    v("every", every, "steps between evaluations of the deterministic objective", cfg::positive());
    v("eval_batch_size", eval_batch_size, "images of the frozen evaluation batch", cfg::positive());
  }
};

class DvarRule {
 public:
  explicit DvarRule(const DvarOptions& config) : window_(config.window), threshold_(config.threshold) {}
  // Adds one objective value; returns the ratio after it.
  double add(double objective);
  // True from the first value at which the ratio fell below the threshold.
  bool triggered() const { return triggered_; }
  size_t size() const { return n_; }

 private:
  int64_t window_;
  double threshold_;
  // Global variance by Welford's method; the window by a ring of the last N values.
  size_t n_ = 0;
  double mean_ = 0.0, m2_ = 0.0;
  std::deque<double> last_;
  bool triggered_ = false;
};

}  // namespace pbench
