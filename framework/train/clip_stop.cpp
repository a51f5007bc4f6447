#include "framework/train/clip_stop.hpp"

#include <algorithm>

namespace pbench {

int64_t ClipStopOptions::interval(int64_t train_steps) const {
  return every > 0 ? every : std::max<int64_t>(1, (train_steps + 9) / 10);
}

bool ClipStopRule::add(double clip_i) {
  if (triggered_) return true;
  if (!has_best_) {
    has_best_ = true;
    best_ = clip_i;
  } else if (clip_i > best_ + delta_) {
    best_ = clip_i;
    no_improvement_ = 0;
  } else if (++no_improvement_ > patience_) {
    triggered_ = true;  // the reference's `no_improvement > patience`: P + 1 flat checks in a row
  }
  return triggered_;
}

}  // namespace pbench
