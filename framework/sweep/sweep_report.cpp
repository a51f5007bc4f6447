#include "framework/sweep/sweep_report.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

void print_catalog(const std::vector<CatalogSection>& sections, bool json) {
  if (json) {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    for (const auto& sec : sections) {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& e : sec.entries) arr.push_back({{"name", e.name}, {"help", e.help}});
      doc[sec.kind] = arr;
    }
    std::cout << doc.dump(2) << "\n";
    return;
  }
  for (const auto& sec : sections) {
    std::cout << sec.kind << ":\n";
    if (sec.entries.empty()) std::cout << "  (none registered in this build)\n";
    size_t width = 0;
    for (const auto& e : sec.entries) width = std::max(width, e.name.size());
    for (const auto& e : sec.entries)
      std::cout << "  " << e.name << std::string(width - e.name.size() + 2, ' ') << e.help << "\n";
  }
}

void print_plan(const SweepPlan& plan, const std::vector<SweepRun>& runs, const fs::path& sweep_dir, bool json) {
  if (json) {
    nlohmann::ordered_json doc;
    doc["sweep"] = plan.name;
    doc["experiment"] = plan.experiment.string();
    doc["results"] = sweep_dir.string();
    doc["axes"] = plan.axes;
    doc["runs"] = nlohmann::ordered_json::array();
    for (const auto& s : runs)
      doc["runs"].push_back({{"run_id", s.run->id}, {"overrides", s.run->overrides}, {"status", state_name(s.state)}});
    std::cout << doc.dump(2) << "\n";
    return;
  }
  std::cout << "sweep " << plan.name << ": " << plan.runs.size() << " runs -> " << sweep_dir.string() << "/runs\n";
  for (const auto& s : runs)
    std::cout << s.run->id << "  " << (s.state == RunState::complete ? "complete" : "pending ") << "  "
              << (s.run->overrides.empty() ? "(no overrides)" : join_words(s.run->overrides)) << "\n";
  if (plan.duplicates) std::cout << "(" << plan.duplicates << " grid points resolved to an already listed run)\n";
}

int summarize_sweep(const SweepPlan& plan, const std::vector<SweepRun>& runs, const fs::path& sweep_dir,
                    const LocalLaunch& launch, bool json) {
  size_t complete = 0, failed = 0, not_run = 0;
  for (const auto& s : runs) {
    if (s.state == RunState::complete) ++complete;
    else if (s.state == RunState::failed) ++failed;
    else ++not_run;
  }
  if (json) {
    nlohmann::ordered_json doc;
    doc["sweep"] = plan.name;
    doc["results"] = sweep_dir.string();
    doc["total"] = runs.size();
    doc["skipped_complete"] = launch.skipped;
    doc["complete"] = complete;
    doc["failed"] = failed;
    doc["not_run"] = not_run;
    doc["interrupted"] = launch.interrupted;
    doc["runs"] = nlohmann::ordered_json::array();
    for (const auto& s : runs)
      doc["runs"].push_back({{"run_id", s.run->id},
                             {"overrides", s.run->overrides},
                             {"status", state_name(s.state)},
                             {"error", s.error},
                             {"file", run_file(sweep_dir, s.run->id).string()}});
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << "sweep " << plan.name << ": " << complete << "/" << runs.size() << " complete, " << failed
              << " failed" << (not_run ? ", " + std::to_string(not_run) + " not run" : std::string()) << " -> "
              << (sweep_dir / "runs").string() << "\n";
  }
  if (launch.interrupted) {
    std::cerr << "[run_sweep] interrupted; run the same command again to resume\n";
    return kExitFailed;
  }
  if (launch.disk_full) {
    std::cerr << "[run_sweep] stopped: the file system of " << sweep_dir.string()
              << " is full; free space and run the same command again to resume (completed runs are kept)\n";
    return kExitFailed;
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace pbench
