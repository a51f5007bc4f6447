#pragma once
// What run_sweep prints on stdout: the catalog (--list), the plan (--plan) and
// the summary after a local launch, each as a human table or one JSON document.
#include <filesystem>
#include <vector>

#include "framework/registry/registry.hpp"
#include "framework/sweep/local_launcher.hpp"
#include "framework/sweep/sweep_runs.hpp"

namespace pbench {

void print_catalog(const std::vector<CatalogSection>& sections, bool json);

void print_plan(const SweepPlan& plan, const std::vector<SweepRun>& runs, const std::filesystem::path& sweep_dir,
                bool json);

// Prints the counts (and, json, every run with its state and error) and returns
// run_sweep's exit status: 1 when a run failed or the launch was interrupted or
// stopped by a full disk (with the line that says how to resume), else 0.
int summarize_sweep(const SweepPlan& plan, const std::vector<SweepRun>& runs, const std::filesystem::path& sweep_dir,
                    const LocalLaunch& launch, bool json);

}  // namespace pbench
