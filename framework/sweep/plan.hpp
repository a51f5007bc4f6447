#pragma once
// Sweep planning: compose the experiment once per grid point, resolve it,
// check it, and give each point its run id. Nothing runs here; `run_sweep
// --plan` prints exactly this.
//
// Axes come from the experiment's `sweep.params` block and from command-line
// overrides with sweep syntax (`a=1,2`, `range(0,5)`, `choice(x,y)`); an
// axis on the command line replaces the block's axis of the same key, and a
// fixed command-line value removes it. The grid is the cartesian product; the
// first axis varies slowest.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/config/overrides.hpp"

namespace pbench {

// The most grid points one sweep may have (checked before the grid is expanded).
inline constexpr size_t kMaxSweepPoints = 100000;

struct PlannedRun {
  std::string id;
  std::vector<std::string> overrides;  // this point's axis values ("seed=1", "method=lora")
  cfg::Node composed;                  // merged, interpolations unresolved
  cfg::Node resolved;
};

struct SweepPlan {
  std::string name;
  std::filesystem::path experiment;
  std::vector<std::string> axes;  // axis keys in grid order
  std::vector<PlannedRun> runs;   // unique run ids, grid order
  size_t duplicates = 0;          // grid points that resolved to an already planned run
};

// Checks one run's resolved config before its id is taken, first completing it
// with what its workload derives (a method's own budget: `train.steps: method`).
using ConfigValidator = std::function<void(cfg::Node& resolved)>;
// Turns one resolved point into several (one override each), e.g.
// `dataset.subject: all` into one run per subject; empty = keep the point.
using PointExpander = std::function<std::vector<std::string>(const cfg::Node& resolved)>;

SweepPlan plan_sweep(const std::filesystem::path& experiment, const std::vector<std::string>& cli_overrides,
                     const ConfigValidator& validate, const PointExpander& expand = nullptr);

}  // namespace pbench
