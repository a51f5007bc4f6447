#include "framework/report/run_records.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "framework/config/node.hpp"
#include "framework/report/continual_scores.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench::report {
namespace {
// Column keys of a continual run's summaries: cl_avg_<metric>, cl_forget_<metric>.
const std::string kContinualAverage = "cl_avg_", kContinualForgetting = "cl_forget_";
}  // namespace

const std::vector<std::string>& metric_keys() {
  static const std::vector<std::string> keys = {
      "dino",      "clip_i",    "clip_t",      "gain_dino",      "gain_clip_i", "gain_clip_t", "trainable",
      "delta_bytes", "sd15_trainable", "sd15_delta_bytes", "steps", "unet_forward", "unet_backward", "dvar_stop",
      "dvar_stop_forward", "steps_saved", "d_dino",
      "d_clip_i",  "d_clip_t",  "clip_stop",   "clip_steps_saved", "dc_dino",   "dc_clip_i",   "dc_clip_t",
      "wall_time", "step_time", "peak_memory"};
  return keys;
}

const std::vector<std::string>& derived_prefixes() {
  static const std::vector<std::string> prefixes = {"gain_", "d_", "dc_"};
  return prefixes;
}

bool is_derived_key(const std::string& key) {
  for (const auto& p : derived_prefixes())
    if (key.rfind(p, 0) == 0) return true;
  return false;
}

std::string metric_title(const std::string& key) {
  static const std::map<std::string, std::string> titles = {
      {"dino", "DINO"},
      {"clip_i", "CLIP-I"},
      {"clip_t", "CLIP-T"},
      {"trainable", "trainable params"},
      {"delta_bytes", "delta size"},
      {"sd15_trainable", "params (SD1.5)"},
      {"sd15_delta_bytes", "delta (SD1.5)"},
      {"steps", "steps trained"},
      {"unet_forward", "UNet images fwd"},
      {"unet_backward", "UNet images bwd"},
      {"dvar_stop", "DVAR stop"},
      {"dvar_stop_forward", "DVAR stop (UNet images fwd)"},
      {"steps_saved", "steps saved"},
      {"d_dino", "ΔDINO stop→final"},
      {"d_clip_i", "ΔCLIP-I stop→final"},
      {"d_clip_t", "ΔCLIP-T stop→final"},
      {"gain_dino", "DINO gain"},
      {"gain_clip_i", "CLIP-I gain"},
      {"gain_clip_t", "CLIP-T gain"},
      {"clip_stop", "CLIP stop"},
      {"clip_steps_saved", "CLIP steps saved"},
      {"dc_dino", "ΔDINO CLIP-stop→final"},
      {"dc_clip_i", "ΔCLIP-I CLIP-stop→final"},
      {"dc_clip_t", "ΔCLIP-T CLIP-stop→final"},
      {"wall_time", "wall time (s)"},
      {"step_time", "step time (ms)"},
      {"peak_memory", "peak memory"},
  };
  auto it = titles.find(key);
  if (it != titles.end()) return it->second;
  // A continual run's summaries of a metric's task x subject matrix (continual_scores.hpp).
  for (const auto& [prefix, what] : {std::pair<std::string, std::string>{kContinualAverage, " avg (continual)"},
                                     std::pair<std::string, std::string>{kContinualForgetting, " forgetting"}})
    if (key.rfind(prefix, 0) == 0) return metric_title(key.substr(prefix.size())) + what;
  return key;
}

std::string group_label(const std::string& resolved_yaml, const std::string& key, const std::string& file) {
  cfg::Node root = cfg::parse_yaml_text(resolved_yaml, cfg::Origin{file + ":/config/resolved", 0});
  const cfg::Node* node = cfg::lookup(root, key);
  if (node && node->is_map()) node = node->find("name");  // `--group-by method` means method.name
  if (!node || node->is_null() || !node->is_scalar()) return "(unset)";
  return node->is_string() ? node->as_string() : node->scalar_text();
}

namespace {

std::optional<double> optional_double(hid_t loc, const std::string& name) {
  if (!h5::has_attr(loc, name)) return std::nullopt;
  return h5::attr_double(loc, name);
}

// A continual run (/continual): each metric matrix's average accuracy and forgetting.
void read_continual(hid_t root, std::map<std::string, double>& values) {
  if (!h5::exists(root, "continual")) return;
  h5::Handle g = h5::open_group(root, "continual");
  const size_t tasks = h5::read_strings(g.id(), "subjects").size();
  for (const std::string& metric : h5::read_strings(g.id(), "metrics")) {
    const ContinualScores s = continual_scores(h5::read_doubles(g.id(), metric), tasks);
    values[kContinualAverage + metric] = s.average;
    if (tasks >= 2) values[kContinualForgetting + metric] = s.forgetting;
  }
}

std::vector<double> optional_series(hid_t root, const std::string& path) {
  if (!h5::exists(root, path)) return {};
  size_t slash = path.rfind('/');
  h5::Handle g = h5::open_group(root, path.substr(0, slash));
  return h5::read_doubles(g.id(), path.substr(slash + 1));
}

// Seconds between two "YYYY-MM-DDTHH:MM:SSZ" stamps; nullopt when either is malformed.
std::optional<double> seconds_between(const std::string& start, const std::string& end) {
  auto parse = [](const std::string& s) -> std::optional<std::time_t> {
    std::tm tm{};
    if (s.size() != 20 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return std::nullopt;
    return timegm(&tm);
  };
  auto a = parse(start), b = parse(end);
  if (!a || !b) return std::nullopt;
  return std::difftime(*b, *a);
}

void read_metric_point(hid_t root, const std::string& point, std::map<std::string, double>& out,
                       RunRecord* backbones) {
  std::string path = "metrics/" + point;
  if (!h5::exists(root, path)) return;
  h5::Handle g = h5::open_group(root, path);
  // A metric is an attribute (its mean) with a per-image array of the same name: every
  // registered metric that ran, schema-1 or not. NaN = the metric did not run.
  for (const auto& name : h5::attr_names(g.id()))
    if (h5::exists(g.id(), name))
      if (auto v = optional_double(g.id(), name); v && !std::isnan(*v)) out[name] = *v;
  if (backbones) {
    for (const char* b : {"clip_backbone", "dino_backbone"})
      if (h5::has_attr(g.id(), b) && h5::attr_string(g.id(), b).rfind("builtin:tiny", 0) == 0)
        backbones->tiny_backbone = true;
  }
}

// A stop rule's group (/dvar, /clip_stop): its stop step and mode, and the table's values: the
// stop step under `stop_key`, the steps it saved against the budget under `saved_key` (0 when the
// rule ran and never fired: it saved nothing; absent when it did not run).
void read_stop_rule(hid_t root, const std::string& group, const std::string& stop_key, const std::string& saved_key,
                    int64_t& stop_step, std::string& mode, std::map<std::string, double>& values) {
  if (h5::exists(root, group)) {
    h5::Handle g = h5::open_group(root, group);
    if (h5::has_attr(g.id(), "stop_step")) stop_step = h5::attr_int(g.id(), "stop_step");
    if (h5::has_attr(g.id(), "mode")) mode = h5::attr_string(g.id(), "mode");
  }
  const bool has_steps = values.count("steps") > 0;
  if (stop_step >= 0) {
    values[stop_key] = double(stop_step);
    if (has_steps) values[saved_key] = values["steps"] - double(stop_step);
  } else if (mode != "off" && has_steps) {
    values[saved_key] = 0.0;
  }
}

// The cost axis on which search and gradient methods compare (docs/run_file_schema.md, /train
// attrs; files written before them have none): UNet evaluations of one image through the steps
// trained, forward and backward, and DVAR's stop step on the same axis.
void read_train_cost(hid_t root, std::map<std::string, double>& values) {
  if (!h5::exists(root, "train") || !values.count("steps")) return;
  h5::Handle g = h5::open_group(root, "train");
  if (!h5::has_attr(g.id(), "forward_images_per_step") || !h5::has_attr(g.id(), "backward_images_per_step")) return;
  const double forward = double(h5::attr_int(g.id(), "forward_images_per_step"));
  values["unet_forward"] = values["steps"] * forward;
  values["unet_backward"] = values["steps"] * double(h5::attr_int(g.id(), "backward_images_per_step"));
  if (values.count("dvar_stop")) values["dvar_stop_forward"] = values["dvar_stop"] * forward;
}

void read_params(hid_t root, const std::string& group, const std::string& prefix, RunRecord& r) {
  if (!h5::exists(root, group)) return;
  h5::Handle g = h5::open_group(root, group);
  if (h5::has_attr(g.id(), "trainable")) r.values[prefix + "trainable"] = double(h5::attr_int(g.id(), "trainable"));
  if (h5::has_attr(g.id(), "delta_bytes_fp32"))
    r.values[prefix + "delta_bytes"] = double(h5::attr_int(g.id(), "delta_bytes_fp32"));
}

}  // namespace

RunRecord read_run_record(const fs::path& file, const std::string& group_by, const std::string& point) {
  RunFileSummary summary = read_run_summary(file);
  RunRecord r;
  r.run_id = summary.run_id;
  r.file = file;
  h5::Handle f = h5::open_file(file.string(), false);
  hid_t root = f.id();
  try {
    std::string yaml;
    if (h5::exists(root, "config/resolved")) {
      h5::Handle cfg_group = h5::open_group(root, "config");
      yaml = h5::read_string(cfg_group.id(), "resolved");
    }
    r.group = group_label(yaml, group_by, file.string());
    r.subject = group_label(yaml, "dataset.subject", file.string());
    if (r.subject == "(unset)") r.subject = "";
    r.seed = group_label(yaml, "seed", file.string());
    if (r.seed == "(unset)") r.seed = "";

    read_params(root, "params", "", r);
    read_params(root, "params/sd15", "sd15_", r);

    r.train_step = optional_series(root, "train/step");
    r.train_loss = optional_series(root, "train/loss");
    if (!r.train_step.empty()) r.values["steps"] = r.train_step.back();

    r.dvar_step = optional_series(root, "dvar/step");
    r.dvar_objective = optional_series(root, "dvar/objective");
    r.dvar_ratio = optional_series(root, "dvar/ratio");
    read_stop_rule(root, "dvar", "dvar_stop", "steps_saved", r.dvar_stop_step, r.dvar_mode, r.values);
    read_stop_rule(root, "clip_stop", "clip_stop", "clip_steps_saved", r.clip_stop_step, r.clip_stop_mode, r.values);
    read_train_cost(root, r.values);

    std::map<std::string, double> final_m, stop_m, clip_stop_m, point_m;
    read_metric_point(root, "final", final_m, &r);
    read_metric_point(root, "dvar_stop", stop_m, nullptr);
    read_metric_point(root, "clip_stop", clip_stop_m, nullptr);
    read_metric_point(root, "baseline", r.baseline, nullptr);
    for (const auto& [k, v] : final_m) {
      if (stop_m.count(k)) r.values["d_" + k] = v - stop_m[k];
      if (clip_stop_m.count(k)) r.values["dc_" + k] = v - clip_stop_m[k];
    }
    if (point != "final") read_metric_point(root, point, point_m, &r);
    for (const auto& [k, v] : point == "final" ? final_m : point_m) {
      r.values[k] = v;
      if (r.baseline.count(k)) r.values["gain_" + k] = v - r.baseline[k];
    }
    r.has_point = h5::exists(root, "metrics/" + point);
    if (h5::exists(root, "metrics")) {
      h5::Handle g = h5::open_group(root, "metrics");
      r.clip_i_real = optional_double(g.id(), "clip_i_real");
      r.dino_real = optional_double(g.id(), "dino_real");
    }

    std::vector<double> wall = optional_series(root, "train/wall_time");
    if (wall.size() >= 2) {
      // Median time per optimizer step (evaluations between steps included): robust to the
      // first step's warm-up and to one slow step.
      std::vector<double> steps;
      for (size_t i = 1; i < wall.size(); ++i) steps.push_back(wall[i] - wall[i - 1]);
      std::sort(steps.begin(), steps.end());
      const size_t mid = steps.size() / 2;
      r.values["step_time"] = 1000.0 * (steps.size() % 2 ? steps[mid] : (steps[mid - 1] + steps[mid]) / 2);
    }
    read_continual(root, r.values);
    if (h5::has_attr(root, "peak_rss_bytes")) r.values["peak_memory"] = double(h5::attr_int(root, "peak_rss_bytes"));
    if (!wall.empty()) {
      r.values["wall_time"] = wall.back();
    } else if (auto s = seconds_between(summary.start_time, summary.end_time)) {
      r.values["wall_time"] = *s;
    }
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(file.string() + ": unreadable run file (" + e.what() + ")");
  }
  return r;
}

SweepRuns load_sweep(const fs::path& sweep_dir, const std::string& group_by, const std::string& point) {
  std::error_code ec;
  if (!fs::is_directory(sweep_dir, ec))
    throw InputError(sweep_dir.string() + ": not a folder (expected results/<sweep>)");
  fs::path runs = sweep_dir / "runs";
  if (!fs::is_directory(runs, ec))
    throw InputError(runs.string() + ": missing (expected results/<sweep>/runs/<run_id>.h5 written by run_sweep)");
  SweepRuns out;
  out.point = point;
  out.sweep = fs::absolute(sweep_dir).lexically_normal().filename().string();
  if (out.sweep.empty()) out.sweep = fs::absolute(sweep_dir).lexically_normal().parent_path().filename().string();

  // Directory order is arbitrary: sort so that every output is byte-identical between calls.
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(runs)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  const std::string partial_suffix = ".h5.partial";
  // A copied run file ("runs/A (copy).h5") holds A's run id: it is one run, counted once, from
  // the file named after its id (else the first in sorted order); the copies are reported, never
  // averaged in (issue 41).
  std::map<std::string, std::string> file_of_run;
  for (const auto& path : files) {
    std::string name = path.filename().string();
    if (name.size() > partial_suffix.size() &&
        name.compare(name.size() - partial_suffix.size(), partial_suffix.size(), partial_suffix) == 0) {
      // Never opened: the run may still be writing it.
      out.excluded.push_back({name.substr(0, name.size() - partial_suffix.size()), "incomplete",
                              "only " + name + " (running, or crashed; run_sweep reruns it)"});
      continue;
    }
    if (path.extension() != ".h5") continue;
    std::string stem = path.stem().string();
    try {
      RunFileSummary s = read_run_summary(path);
      if (s.schema_version != kRunSchemaVersion) {
        // A newer layout may mean something else under the same names: never average it.
        out.excluded.push_back({stem, "unreadable", "schema_version " + std::to_string(s.schema_version) +
                                                        "; this make_table reads version " +
                                                        std::to_string(kRunSchemaVersion) + " (update pbench)"});
      } else if (s.status == "failed") {
        out.excluded.push_back({s.run_id, "failed", s.error.empty() ? "(no error recorded)" : s.error});
      } else if (s.status != "complete") {
        out.excluded.push_back({s.run_id, "incomplete", "status '" + s.status + "'"});
      } else if (auto [first, fresh] = file_of_run.emplace(s.run_id, path.filename().string()); !fresh) {
        std::string copy = path.filename().string();
        if (stem == s.run_id) {  // the file named after the run is the one counted
          std::swap(copy, first->second);
          for (auto& r : out.complete)
            if (r.run_id == s.run_id) r = read_run_record(path, group_by, point);
        }
        out.excluded.push_back({s.run_id, "duplicate", copy + " holds the same run as " + first->second + "; counted once"});
      } else {
        out.complete.push_back(read_run_record(path, group_by, point));
      }
    } catch (const InputError& e) {
      out.excluded.push_back({stem, "unreadable", e.what()});
    }
  }
  auto by_id = [](const auto& a, const auto& b) { return a.run_id < b.run_id; };
  std::stable_sort(out.complete.begin(), out.complete.end(), by_id);
  std::stable_sort(out.excluded.begin(), out.excluded.end(), by_id);
  const auto& known = metric_keys();
  for (const auto& r : out.complete)
    for (const auto& [key, value] : r.values)
      if (!is_derived_key(key) && std::find(known.begin(), known.end(), key) == known.end() &&
          std::find(out.extra_metrics.begin(), out.extra_metrics.end(), key) == out.extra_metrics.end())
        out.extra_metrics.push_back(key);
  std::sort(out.extra_metrics.begin(), out.extra_metrics.end());
  return out;
}

}  // namespace pbench::report
