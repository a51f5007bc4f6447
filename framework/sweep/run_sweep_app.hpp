#pragma once
// The run_sweep program (INTERFACES.md): plan a sweep, skip complete runs, run
// the rest each in its own `pbench run` process, `--jobs` at a time.
#include <functional>
#include <vector>

#include "framework/registry/registry.hpp"
#include "framework/sweep/plan.hpp"

namespace pbench {

// What run_sweep needs from the registries (which live with the torch code).
struct SweepHooks {
  ConfigValidator validate;
  PointExpander expand;
  std::function<std::vector<CatalogSection>()> catalog;
};

int run_sweep_main(int argc, char** argv, const SweepHooks& hooks);

}  // namespace pbench
