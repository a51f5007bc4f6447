#pragma once
// A workload is what `pbench run` executes for one resolved run config. The
// top-level key `workload` selects it (default: `personalize`, the training /
// sampling / evaluation engine). Tests register their own workloads in
// test-only programs; the product registers only real ones.
#include <functional>
#include <iosfwd>
#include <string>

#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/registry/registry.hpp"

namespace pbench {

struct ChosenMethod;  // framework/train/method.hpp

struct RunContext {
  const cfg::Node& config;  // resolved run config
  std::string run_id;
  int64_t seed = 0;
  int threads = 1;
  RunFileWriter& file;
  std::ostream& log;  // progress for humans (the run's log file under run_sweep)
  // The config's `method:` section as validate_run_config read and checked it (typed
  // options and their builder), handed over so that no workload reads it again; null
  // when the config has no method section.
  const ChosenMethod* method = nullptr;
  // *method, or InputError saying that this workload needs a `method:` section.
  const ChosenMethod& chosen_method() const;
};

struct Workload {
  // Executes one run.
  std::function<void(RunContext&)> run;
  // Checks the values of a resolved config (ranges, registered names, subjects)
  // without loading anything heavy: validate_run_config calls it, so `run_sweep
  // --plan` and `pbench run` reject a bad value with exit 2 before any run
  // starts. Null: the type checks against the defaults are all there is.
  std::function<void(const cfg::Node& resolved)> check;
  // Fills what a resolved config derives from its entries (a method's own budget for
  // `train.steps: method`), before any check and before the run id is taken. Null: nothing.
  std::function<cfg::Node(const cfg::Node& resolved)> complete;
  // Its config keys, one row per key ("train.steps": default, type, allowed values,
  // help) for `pbench options`; empty when the workload declares none.
  std::vector<cfg::OptionDoc> options;
};
constexpr const char* kDefaultWorkload = "personalize";

// The table of workloads (framework/workloads/registry.cpp fills it).
Registry<Workload>& workloads();

}  // namespace pbench
