#pragma once
// Test-only workloads for the sweep machinery (registered only in the test
// programs test_worker and test_run_sweep; never in the product binaries).
#include "framework/run/workload.hpp"

namespace pbench::test {
// `test_steps`: writes `test.steps` training/DVAR rows, sleeping `test.step_ms`
// per step; `test.fail_at` throws at that step (a handled failure),
// `test.crash_at` kills the process with SIGKILL at that step (a crash).
void register_test_workloads(Registry<Workload>& registry);
}  // namespace pbench::test
