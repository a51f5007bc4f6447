#pragma once
// Everything registered in this build, and the checks a resolved run config
// must pass before any run starts.
#include <optional>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/registry/registry.hpp"
#include "framework/train/method.hpp"

namespace pbench {

std::vector<CatalogSection> catalog();

// Makes every registered method a built-in option of the config group `method`
// (cfg::set_builtin_group_options): `method=lora` needs no experiments/method/lora.yaml.
// Called first by each executable that composes experiment files.
void install_builtin_group_options();

// Completes `resolved` with what its workload derives (Workload::complete: a
// method's own budget), then throws InputError for an unknown workload (or
// registry entry) or a section that does not match its entry's defaults
// (unknown key, wrong type) or a value its workload rejects.
// What the checks read, typed, for the run to use without reading it again.
struct CheckedRun {
  std::optional<ChosenMethod> method;  // the `method:` section, when there is one
};
CheckedRun validate_run_config(cfg::Node& resolved);

}  // namespace pbench
