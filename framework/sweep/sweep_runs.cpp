#include "framework/sweep/sweep_runs.hpp"

#include <fstream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

const char* state_name(RunState state) {
  switch (state) {
    case RunState::pending: return "pending";
    case RunState::running: return "running";
    case RunState::running_elsewhere: return "running elsewhere";
    case RunState::complete: return "complete";
    case RunState::failed: return "failed";
    case RunState::interrupted: return "interrupted";
  }
  return "unknown";
}

fs::path run_file(const fs::path& sweep_dir, const std::string& run_id) { return sweep_dir / "runs" / (run_id + ".h5"); }

std::vector<SweepRun> initial_runs(const SweepPlan& plan, const fs::path& sweep_dir) {
  std::vector<SweepRun> runs;
  runs.reserve(plan.runs.size());
  for (const auto& run : plan.runs) {
    SweepRun s;
    s.run = &run;
    const fs::path file = run_file(sweep_dir, run.id);
    if (const auto done = complete_run_summary(file)) {
      // A file named after this run that holds another (copied or renamed by hand) is neither
      // this run's result nor ours to replace (issue 41).
      if (done->run_id != run.id)
        throw InputError(file.string() + ": holds run " + done->run_id + ", not " + run.id +
                         " (a copied or renamed run file?); move it out of runs/ and run the sweep again");
      s.state = RunState::complete;
    }
    runs.push_back(s);
  }
  return runs;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

namespace {
// Text for the one-line comment at the top of a run's config: a line break in an override
// value (a prompt, say) would end the comment and the rest would be read as YAML (issue 41).
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : std::string(1, c);
  return out;
}
}  // namespace

fs::path write_run_config(const SweepPlan& plan, const PlannedRun& run, const fs::path& sweep_dir, int threads) {
  cfg::Node config = run.composed;
  cfg::assign(config, "runtime.sweep", cfg::Node::string(plan.name), true);
  cfg::assign(config, "runtime.output", cfg::Node::string(fs::absolute(run_file(sweep_dir, run.id)).string()), true);
  cfg::assign(config, "runtime.threads", cfg::Node::integer(threads), true);
  fs::path config_file = sweep_dir / "configs" / (run.id + ".yaml");
  std::ofstream out(config_file);
  out << "# run " << run.id << " of sweep " << plan.name << " (" << one_line(join_words(run.overrides))
      << ")\n# written by run_sweep; rerun one run with: pbench run " << config_file.string() << "\n"
      << cfg::to_yaml(config);
  return config_file;
}

}  // namespace pbench
