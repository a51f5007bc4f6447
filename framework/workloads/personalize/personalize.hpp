#pragma once
// The `personalize` workload (the default of `workload`): train a method on
// one subject with DVAR, then evaluate it. One of the workloads beside which
// the next ones (invert, edit, continual, pretrain) get their own folders
// under framework/workloads/.
#include "framework/run/workload.hpp"

namespace pbench {
void register_personalize_workload(Registry<Workload>& registry);
}  // namespace pbench
