#pragma once
#include "framework/run/workload.hpp"

namespace pbench {
// Registers `personalize`, the engine's workload (the default of `workload`).
void register_personalize_workload(Registry<Workload>& registry);
}  // namespace pbench
