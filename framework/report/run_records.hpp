#pragma once
// What make_table knows about one run file of a sweep: the numbers of the
// table, the curves of the figures and where the samples are. Reading is
// forgiving on purpose: a run without metrics (or any other optional group)
// gives empty values, never an error, so one odd run cannot hide the table.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pbench::report {

struct RunRecord {
  std::string run_id;
  std::filesystem::path file;
  std::string group;    // value of the --group-by key (a map's `name`)
  std::string subject;  // dataset.subject, "" when the config has none
  std::string seed;     // as written in the config, "" when absent
  // Table values by metric key (see metric_keys()); absent = not recorded.
  std::map<std::string, double> values;
  bool tiny_backbone = false;  // builtin:tiny-* metrics: a pipeline check only
  bool has_point = false;      // the run has /metrics/<point> (the point load_sweep was asked for)
  std::optional<double> clip_i_real, dino_real;
  std::vector<double> train_step, train_loss, dvar_step, dvar_objective, dvar_ratio;
  int64_t dvar_stop_step = -1;
  std::string dvar_mode = "off";  // off: DVAR did not run, so 'never fired' means nothing
  bool dvar_never_fired() const { return dvar_mode != "off" && dvar_stop_step < 0; }
  int64_t clip_stop_step = -1;    // CLIP early stopping (/clip_stop), as DVAR's
  std::string clip_stop_mode = "off";
  bool clip_never_fired() const { return clip_stop_mode != "off" && clip_stop_step < 0; }
  // /metrics/baseline's means: the frozen model on the class-word prompts (empty when not recorded).
  std::map<std::string, double> baseline;
};

// A run that must be named under the table and kept out of every average.
struct ExcludedRun {
  std::string run_id;
  std::string state;  // failed | incomplete | unreadable | duplicate (a copy of a run already read)
  std::string detail;  // the recorded error, or why it is incomplete
};

struct SweepRuns {
  std::string sweep;  // the folder name
  std::string point = "final";  // the metric point whose dino / clip_i / clip_t the records hold
  std::vector<RunRecord> complete;  // sorted by run id
  std::vector<ExcludedRun> excluded;  // sorted by run id
  // Metrics the run files hold beyond metric_keys() (a metric registered after schema 1,
  // e.g. psnr), sorted: make_table tabulates whatever it finds.
  std::vector<std::string> extra_metrics;
};

// Every metric key a table column can show, in column order. Derived keys of a metric m:
// gain_m = point - baseline (the frozen model), d_m = final - dvar_stop, dc_m = final - clip_stop.
const std::vector<std::string>& metric_keys();
// The prefixes of those derived keys ("gain_", "d_", "dc_").
const std::vector<std::string>& derived_prefixes();
bool is_derived_key(const std::string& key);
// Human column header of a key ("DINO", "steps saved").
std::string metric_title(const std::string& key);

// Config value at a dotted path as a group label: a map gives its `name`,
// a scalar its YAML text, anything missing "(unset)".
std::string group_label(const std::string& resolved_yaml, const std::string& key, const std::string& file);

// Reads one complete run file (throws InputError when it is not a run file).
// `point` names the /metrics/<point> group whose means fill dino, clip_i and clip_t
// ("final", or an evaluation variant's "final_rank_4"); d_* always compare final with dvar_stop.
RunRecord read_run_record(const std::filesystem::path& file, const std::string& group_by,
                          const std::string& point = "final");

// Scans <sweep>/runs: *.h5 files (complete, failed, running) and *.h5.partial.
// Throws InputError when <sweep> or <sweep>/runs is not a folder.
SweepRuns load_sweep(const std::filesystem::path& sweep_dir, const std::string& group_by,
                     const std::string& point = "final");

}  // namespace pbench::report
