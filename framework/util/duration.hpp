#pragma once
// Human durations for progress lines (run_sweep's ETA, pbench pretrain's).
#include <string>

namespace pbench {

// "42s", "3m07s", "1h05m" (rounded to the second; negative counts as 0).
std::string format_duration(double seconds);

}  // namespace pbench
