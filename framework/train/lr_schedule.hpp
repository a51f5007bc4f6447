#pragma once
// Learning-rate schedules as multipliers of each group's base rate.
#include <cstdint>
#include <string>

namespace pbench {

struct LrSchedule {
  std::string kind = "constant";  // constant | warmup_constant | cosine | linear
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  // Multiplier for optimizer step `step` (1-based).
  double factor(int64_t step) const;
};

}  // namespace pbench
