#include "framework/train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace pbench {

double LrSchedule::factor(int64_t step) const {
  if (warmup_steps > 0 && step <= warmup_steps) return double(step) / double(warmup_steps);
  if (kind == "constant" || kind == "warmup_constant") return 1.0;
  double progress = double(step - warmup_steps) / double(std::max<int64_t>(1, total_steps - warmup_steps));
  progress = std::clamp(progress, 0.0, 1.0);
  if (kind == "cosine") return 0.5 * (1.0 + std::cos(M_PI * progress));
  return 1.0 - progress;  // linear decay to zero
}

}  // namespace pbench
