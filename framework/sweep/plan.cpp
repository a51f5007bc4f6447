#include "framework/sweep/plan.hpp"

#include <algorithm>
#include <set>

#include "framework/config/compose.hpp"
#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

std::string bare_key(const cfg::Override& o) { return o.key; }

// Axes declared in the experiment's `sweep.params` block.
std::vector<cfg::Override> block_axes(const cfg::Node& sweep, const std::string& file) {
  std::vector<cfg::Override> axes;
  if (sweep.is_null()) return axes;
  if (!sweep.is_map()) throw InputError(sweep.origin().describe() + ": sweep: expected a map with name/params");
  for (size_t i = 0; i < sweep.keys().size(); ++i) {
    const std::string& key = sweep.keys()[i];
    if (key != "name" && key != "params")
      throw InputError(sweep.values()[i].origin().describe() + ": sweep." + key +
                       ": unknown key; allowed: name, params");
  }
  const cfg::Node* params = sweep.find("params");
  if (!params || params->is_null()) return axes;
  if (!params->is_map()) throw InputError(params->origin().describe() + ": sweep.params: expected a map of key: values");
  for (size_t i = 0; i < params->keys().size(); ++i) {
    const std::string& key = params->keys()[i];
    const cfg::Node& value = params->values()[i];
    std::string text = key + "=" + (value.is_scalar() ? value.scalar_text() : std::string("[...]"));
    cfg::Override o = cfg::parse_override(key + "=0", value.origin().describe() + ": sweep.params." + key);
    o.text = text;
    if (value.is_list()) {
      o.values = value.items();
      o.sweep = true;
    } else if (value.is_string()) {
      o.values = cfg::parse_override_values(value.as_string(), value.origin(), o.sweep);
      o.sweep = true;
    } else if (value.is_scalar()) {
      o.values = {value};
      o.sweep = true;
    } else {
      throw InputError(value.origin().describe() + ": sweep.params." + key +
                       ": expected a list or a sweep expression ('a,b', 'range(0,3)')");
    }
    if (o.values.empty()) throw InputError(value.origin().describe() + ": sweep.params." + key + ": no values");
    axes.push_back(std::move(o));
  }
  (void)file;
  return axes;
}

// `method: all` (a sweep over a config group, a folder <experiment dir>/<group>/
// of option files) sweeps every option of the group, sorted by name: peft_compare
// names no method, so a new method joins it by having its experiments/method file.
void expand_group_all(cfg::Override& axis, const fs::path& experiment) {
  if (axis.values.size() != 1 || !axis.values.front().is_string() || axis.values.front().as_string() != "all") return;
  if (!cfg::is_group_key(experiment, axis.key)) return;
  const cfg::Origin origin = axis.values.front().origin();
  std::vector<cfg::Node> options;
  for (const auto& option : cfg::group_options(experiment, axis.key)) options.push_back(cfg::Node::string(option, origin));
  if (options.empty())
    throw InputError(origin.describe() + ": " + axis.key + ": all: the group folder " +
                     (experiment.parent_path() / axis.key).string() + " holds no option files (*.yaml)");
  axis.values = std::move(options);
  axis.sweep = true;
}

}  // namespace

SweepPlan plan_sweep(const fs::path& experiment, const std::vector<std::string>& cli_overrides,
                     const ConfigValidator& validate, const PointExpander& expand) {
  SweepPlan plan;
  plan.experiment = experiment;
  std::vector<cfg::Override> cli = cfg::parse_command_line_overrides(cli_overrides);
  for (auto& o : cli) expand_group_all(o, experiment);  // `method=all` on the command line is a sweep too

  // The sweep block is read from the experiment file itself (with sweep.* overrides applied).
  std::vector<cfg::Override> fixed;
  for (const auto& o : cli)
    if (!o.sweep) fixed.push_back(o);
  cfg::ComposeResult base = cfg::compose(experiment, fixed);

  std::vector<cfg::Override> axes;
  std::set<std::string> cli_keys;
  for (const auto& o : cli) cli_keys.insert(bare_key(o));
  for (auto& axis : block_axes(base.sweep, base.primary_display))
    if (!cli_keys.count(bare_key(axis))) axes.push_back(std::move(axis));
  for (const auto& o : cli)
    if (o.sweep) axes.push_back(o);
  for (auto& a : axes) expand_group_all(a, experiment);  // the block's (command-line ones are done)
  for (const auto& a : axes) plan.axes.push_back(a.prefix() + a.key);

  std::string name = experiment.stem().string();
  if (const cfg::Node* n = cfg::lookup(base.sweep, "name"); n && !n->is_null()) {
    if (!n->is_scalar()) throw InputError(n->origin().describe() + ": sweep.name: expected a string");
    name = n->scalar_text();
  }
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw InputError(base.primary_display + ": sweep.name: '" + name + "' is not a valid folder name");
  plan.name = name;

  // The grid's size, before anything is expanded: two 100,000-value axes (each within its own
  // cap) were expanded point by point until memory ran out (issue 41).
  size_t points = 1;
  std::string sizes;
  for (const auto& a : axes) {
    points = points > kMaxSweepPoints ? points : points * std::max<size_t>(1, a.values.size());
    sizes += (sizes.empty() ? "" : " x ") + a.key + " (" + std::to_string(a.values.size()) + ")";
  }
  if (points > kMaxSweepPoints)
    throw InputError(base.primary_display + ": the sweep grid " + sizes + " has more than " +
                     std::to_string(kMaxSweepPoints) + " points; split it into several sweeps");

  // Cartesian product, first axis slowest.
  std::vector<size_t> index(axes.size(), 0);
  std::set<std::string> seen;
  while (true) {
    std::vector<cfg::Override> point;
    std::vector<std::string> labels;
    for (size_t a = 0; a < axes.size(); ++a) {
      point.push_back(axes[a].with_value(index[a]));
      labels.push_back(point.back().text);
    }
    // Axis values first, then the fixed command-line overrides in the order written.
    std::vector<cfg::Override> all = point;
    all.insert(all.end(), fixed.begin(), fixed.end());
    cfg::ComposeResult composed = cfg::compose(experiment, all);
    cfg::Node resolved = cfg::resolve(composed.config);
    std::vector<std::string> expansions = expand ? expand(resolved) : std::vector<std::string>{};
    // Each run of this point, composed and resolved once: the point itself, or one run
    // per expansion (`dataset.subject=all`), each with its own extra override.
    struct PointRun {
      cfg::Node composed, resolved;
      std::vector<std::string> labels;
    };
    std::vector<PointRun> runs;
    if (expansions.empty()) {
      runs.push_back(PointRun{std::move(composed.config), std::move(resolved), labels});
    } else {
      for (const auto& extra : expansions) {
        std::vector<cfg::Override> more = all;
        more.push_back(cfg::parse_override(extra));
        auto point_labels = labels;
        point_labels.push_back(extra);
        cfg::Node run_composed = cfg::compose(experiment, more).config;
        cfg::Node run_resolved = cfg::resolve(run_composed);
        runs.push_back(PointRun{std::move(run_composed), std::move(run_resolved), std::move(point_labels)});
      }
    }
    for (auto& run : runs) {
      cfg::require_no_missing(run.resolved);
      if (validate) validate(run.resolved);
      std::string id = cfg::run_id(run.resolved);
      if (seen.insert(id).second) {
        plan.runs.push_back(PlannedRun{id, run.labels, run.composed, run.resolved});
      } else {
        ++plan.duplicates;
      }
    }
    // Advance the odometer (last axis fastest).
    size_t a = axes.size();
    while (a > 0) {
      --a;
      if (++index[a] < axes[a].values.size()) break;
      index[a] = 0;
      if (a == 0) return plan;
    }
    if (axes.empty()) return plan;
  }
}

}  // namespace pbench
