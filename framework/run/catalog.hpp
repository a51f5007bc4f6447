#pragma once
// Everything registered in this build, and the checks a resolved run config
// must pass before any run starts.
#include <vector>

#include "framework/config/node.hpp"
#include "framework/registry/registry.hpp"

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
void validate_run_config(cfg::Node& resolved);

}  // namespace pbench
