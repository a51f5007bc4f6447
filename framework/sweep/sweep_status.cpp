#include "framework/sweep/sweep_status.hpp"

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "framework/h5/run_file.hpp"
#include "framework/h5/run_lock.hpp"
#include "framework/sweep/slurm.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::set<std::string> known_run_ids(const fs::path& dir) {
  std::set<std::string> ids;
  std::error_code ec;
  for (const auto& [sub, suffix] : {std::pair{"configs", ".yaml"}, {"runs", ".h5"}, {"runs", ".h5.partial"}}) {
    if (!fs::is_directory(dir / sub, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir / sub)) {
      std::string name = e.path().filename().string();
      if (ends_with(name, suffix)) ids.insert(name.substr(0, name.size() - std::string(suffix).size()));
    }
  }
  return ids;
}

}  // namespace

std::vector<RunStatus> sweep_status(const fs::path& sweep_dir) {
  std::error_code ec;
  if (!fs::is_directory(sweep_dir / "runs", ec) && !fs::is_directory(sweep_dir / "configs", ec))
    throw InputError(sweep_dir.string() + ": not a sweep folder (no runs/ or configs/; give <results>/<sweep>)");
  auto tasks = slurm_tasks(sweep_dir);
  std::vector<RunStatus> out;
  for (const auto& id : known_run_ids(sweep_dir)) {
    RunStatus s{id, "pending", ""};
    fs::path final_file = sweep_dir / "runs" / (id + ".h5");
    auto task = tasks.find(id);
    std::string where = task == tasks.end() ? "" : " (Slurm task " + task->second.job + "_" + task->second.task + ")";
    if (fs::exists(final_file, ec)) {
      try {
        RunFileSummary r = read_run_summary(final_file);
        s.state = r.status == "complete" ? "done" : "failed";
        s.detail = r.status == "complete" ? r.end_time : r.error;
      } catch (const std::exception& e) {
        s.state = "failed";
        s.detail = e.what();
      }
    } else if (run_is_locked(final_file)) {
      s.state = "running";
      s.detail = "writing " + id + ".h5.partial" + where;
    } else if (task != tasks.end() && slurm_task_active(task->second.state)) {
      s.state = task->second.state == "RUNNING" ? "running" : "pending";
      s.detail = (task->second.state == "RUNNING" ? "starting" : "queued") + where;
    } else if (task != tasks.end() && !task->second.state.empty() && task->second.state != "COMPLETED") {
      s.detail = "ended by Slurm: " + task->second.state + where + "; the next submission reruns it";
    } else if (fs::exists(sweep_dir / "runs" / (id + ".h5.partial"), ec)) {
      s.detail = "stopped mid-run (stale .partial); the next run_sweep reruns it";
    } else {
      s.detail = task != tasks.end() ? "not run" + where : "not started";
    }
    out.push_back(s);
  }
  return out;
}

int print_sweep_status(const fs::path& sweep_dir, bool json) {
  auto runs = sweep_status(sweep_dir);
  std::map<std::string, size_t> counts = {{"done", 0}, {"failed", 0}, {"running", 0}, {"pending", 0}};
  for (const auto& r : runs) ++counts[r.state];
  if (json) {
    nlohmann::ordered_json doc;
    doc["results"] = sweep_dir.string();
    doc["counts"] = counts;
    doc["runs"] = nlohmann::ordered_json::array();
    for (const auto& r : runs) doc["runs"].push_back({{"run_id", r.run_id}, {"state", r.state}, {"detail", r.detail}});
    std::cout << doc.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& r : runs) std::cout << r.run_id << "  " << r.state << std::string(8 - r.state.size(), ' ') << r.detail << "\n";
  std::cout << sweep_dir.string() << ": " << counts["done"] << " done, " << counts["failed"] << " failed, "
            << counts["running"] << " running, " << counts["pending"] << " pending\n";
  return kExitOk;
}

}  // namespace pbench
