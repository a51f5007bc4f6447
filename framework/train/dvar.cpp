#include "framework/train/dvar.hpp"

#include <cmath>

namespace pbench {

double DvarRule::add(double x) {
  ++n_;
  double delta = x - mean_;
  mean_ += delta / double(n_);
  m2_ += delta * (x - mean_);
  last_.push_back(x);
  if (int64_t(last_.size()) > window_) last_.pop_front();
  if (int64_t(n_) < window_) return 1.0;
  double global_var = m2_ / double(n_);
  // The window's variance, computed directly (N values) for accuracy.
  double wmean = 0.0;
  for (double v : last_) wmean += v;
  wmean /= double(last_.size());
  double wvar = 0.0;
  for (double v : last_) wvar += (v - wmean) * (v - wmean);
  wvar /= double(last_.size());
  // As the reference's np.var(H[-N:]) / np.var(H): a constant history gives
  // 0 / 0 = NaN, and NaN < threshold is false, so it never stops. A flat
  // objective means nothing trains, not that training converged.
  double ratio = global_var > 0.0 ? wvar / global_var : std::nan("");
  if (ratio < threshold_) triggered_ = true;
  return ratio;
}

}  // namespace pbench
