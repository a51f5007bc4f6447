#pragma once
// The aggregated table of a sweep: one row per group (and one per real-image
// baseline), one cell per metric, plus the runs that were kept out.
#include <map>
#include <string>
#include <vector>

#include "framework/report/run_records.hpp"
#include "framework/report/stats.hpp"

namespace pbench::report {

struct TableCell {
  Summary summary;      // over the runs that have the value
  size_t never = 0;     // dvar_stop only: runs where DVAR never fired (stop_step = -1)
  bool empty() const { return summary.n == 0; }
};

struct TableRow {
  std::string label;
  bool baseline = false;  // real vs real images, not a method
  bool tiny = false;      // some run used builtin:tiny-* backbones
  size_t runs = 0;        // complete runs in the group (baseline: subjects)
  std::map<std::string, TableCell> cells;  // by metric key; missing = empty cell
};

struct Table {
  std::string sweep, group_by;
  std::string point = "final";       // the /metrics/<point> of dino, clip_i, clip_t (make_table --point)
  std::vector<std::string> metrics;  // column keys, in order
  bool ci = false;
  std::vector<TableRow> rows;         // groups sorted by label, then the baseline row
  std::vector<ExcludedRun> excluded;  // failed / incomplete / unreadable
  size_t complete_runs = 0;
  bool any_tiny() const;
};

// Checks a --metrics list against metric_keys() (and `extra`); throws InputError naming the unknown key.
// `extra`: metric names the sweep's run files hold beyond metric_keys() (SweepRuns::extra_metrics);
// each is accepted, and so is its d_<name>.
std::vector<std::string> parse_metric_list(const std::string& list, const std::vector<std::string>& extra = {});

Table build_table(const SweepRuns& runs, const std::string& group_by, const std::vector<std::string>& metrics, bool ci);

// Groups in table order (sorted labels) with their runs in run id order.
std::vector<std::pair<std::string, std::vector<const RunRecord*>>> runs_by_group(const SweepRuns& runs);

}  // namespace pbench::report
