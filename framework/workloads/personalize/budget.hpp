#pragma once
// A method's own training budget in a run config. `method` as the value of
// train.steps, train.batch_size, dvar.window or dvar.threshold means the chosen
// method's budget (MethodBudget: its paper's or reference code's numbers; the
// engine's DVAR defaults where DVAR tuned nothing for it). The values replace
// `method` before the run id is taken, so `train.steps: method` and the number
// itself are the same run, and every run's resolved config records what it used.
#include "framework/config/node.hpp"

namespace pbench::personalize {

// Workload::complete: `resolved` with every `method` budget value replaced.
cfg::Node with_method_budget(const cfg::Node& resolved);

}  // namespace pbench::personalize
