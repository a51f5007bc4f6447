#pragma once
// One HDF5 file per run, schema version 1 (../shared/INTERFACES.md and
// docs/run_file_schema.md). The writer creates `<final>.partial` with every
// group of the schema, appends curves as the run goes, and renames the file to
// its final name when the run ends, `complete` or `failed`. A process that
// dies without finishing leaves only the `.partial`, which run_sweep discards.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "framework/h5/h5.hpp"
#include "framework/h5/run_lock.hpp"

namespace pbench {

constexpr int64_t kRunSchemaVersion = 1;

struct Provenance {
  std::string git_commit, pbench_version, torch_version, cpu, host;
  int64_t threads = 1;
  // Under a Slurm job (its environment), else empty: which job and array task ran
  // the run and on which node, to find its scheduler log and accounting record.
  std::string slurm_job_id, slurm_array_job_id, slurm_array_task_id, slurm_node;
};
// Fills what the framework knows (commit, version, cpu, host, Slurm ids); the caller adds torch and threads.
Provenance current_provenance();
std::string iso8601_utc_now();

struct ParamCounts {
  std::string method;
  int64_t trainable = 0, total = 0, delta_bytes_fp32 = 0, delta_bytes_fp16 = 0;
};

// One metric's scores at a point: /metrics/<point>/<name> (per generated image) and
// its mean, the attribute <name> of /metrics/<point>.
struct MetricScores {
  std::string name;
  std::vector<double> per_image;
  // The attribute's value: the mean of per_image, NaN when empty (the metric did not run).
  double mean() const;
};

// The schema-1 metric names (INTERFACES.md): always present at every point, NaN
// with an empty array when the metric did not run.
const std::vector<std::string>& schema_metric_names();

struct MetricPoint {
  int64_t step = 0;
  std::vector<MetricScores> scores;  // every metric that ran, in the order it ran
  std::string clip_backbone, dino_backbone;  // "" when not loaded
  // Evaluation-variant points only (final_<variant>): the variant's name and DVAR's
  // deterministic objective under it (NaN when DVAR is off). Written as the attrs
  // `variant` and `objective` when `variant` is not empty.
  std::string variant;
  double objective = std::numeric_limits<double>::quiet_NaN();
};

// The continual workload's record (/continual): tasks in training order, one subject each;
// every metric's task x subject matrix, row t = the model after task t scored on each subject
// learnt so far (NaN for the subjects after t).
struct ContinualRecord {
  std::vector<std::string> subjects;        // task order
  std::vector<int64_t> steps;               // steps trained per task
  std::vector<int64_t> dvar_stop_steps;     // per task, -1 when DVAR did not fire
  std::vector<std::string> delta_files;     // each task's delta, as saved beside the run file
  std::vector<std::pair<std::string, std::vector<double>>> matrices;  // metric -> [T*T] row-major
};

struct DvarSettings {
  int64_t window = 0;
  double threshold = 0.0;
  std::string mode = "off";  // monitor | stop | off
  int64_t stop_step = -1;
};

// CLIP early stopping beside DVAR (framework/train/clip_stop.hpp): /clip_stop attrs.
struct ClipStopSettings {
  std::string mode = "off";  // monitor | stop | off
  int64_t every = 0;         // K, the steps between checks (resolved, never 0 once it ran)
  int64_t num_prompts = 0, sampling_steps = 0, patience = 0;
  double delta = 0.0;
  int64_t stop_step = -1;
};

class RunFileWriter {
 public:
  // Takes the run's lock (InputError when another process writes this run),
  // creates `<final_path>.partial` (replacing a stale one) and writes the root
  // attributes, both configs and the provenance with status "running".
  RunFileWriter(std::filesystem::path final_path, const std::string& run_id, const std::string& sweep,
                const std::string& unresolved_yaml, const std::string& resolved_yaml, const Provenance& prov);
  ~RunFileWriter();  // unfinished: closes and leaves the .partial (as a crash would)
  RunFileWriter(const RunFileWriter&) = delete;
  RunFileWriter& operator=(const RunFileWriter&) = delete;

  // group: "params" for the run's model, "params/sd15" for SD v1.5.
  void set_params(const std::string& group, const ParamCounts& counts);
  void append_train(int64_t step, float loss, float lr, double wall_time);
  // /train attrs: a step's cost in UNet evaluations of one image, forward and backward
  // (TrainResult: a search method's steps take many forward passes and no backward one).
  void set_train_cost(int64_t forward_images_per_step, int64_t backward_images_per_step);
  void append_dvar(int64_t step, float objective, float ratio);
  void set_dvar(const DvarSettings& settings);
  void append_clip_stop(int64_t step, double clip_i);
  void set_clip_stop(const ClipStopSettings& settings);
  void set_metrics(const std::string& point, const MetricPoint& metrics);
  // `<metric>_real` attributes of /metrics: each metric's real-vs-real baseline of the
  // subject (clip_i_real and dino_real always, NaN when not computed).
  // /continual: the datasets subjects, delta_files, metrics, steps, dvar_stop_step and one [T, T]
  // float64 per metric.
  void set_continual(const ContinualRecord& record);
  void set_real_baselines(const std::vector<std::pair<std::string, double>>& by_metric);
  // images: uint8 RGB, row-major [n, height, width, 3].
  void set_samples(const std::string& point, const std::vector<uint8_t>& images, int64_t n, int64_t height,
                   int64_t width, const std::vector<std::string>& prompts, const std::vector<int64_t>& seeds);
  hid_t root() const { return file_.id(); }  // for groups later issues add
  void flush();

  // Marks the run and moves the file to its final name.
  void complete();
  void fail(const std::string& error);

  const std::filesystem::path& partial_path() const { return partial_; }
  const std::filesystem::path& final_path() const { return final_; }

 private:
  void finish(const std::string& status, const std::string& error);

  std::filesystem::path final_, partial_;
  RunLock lock_;  // taken before the stale .partial is replaced
  h5::Handle file_;
  bool finished_ = false;
};

// What run_sweep and make_table need to know about a run file.
struct RunFileSummary {
  int64_t schema_version = 0;
  std::string run_id, sweep, status, error, start_time, end_time;
};
// Throws InputError when the file is not a readable pbench run file.
RunFileSummary read_run_summary(const std::filesystem::path& path);
// The summary of `path` when it exists and reads as a run whose status is "complete", else
// nullopt (missing, unreadable, failed or unfinished): one read for callers that need the id too.
std::optional<RunFileSummary> complete_run_summary(const std::filesystem::path& path);
// True when `path` exists and reads as a run whose status is "complete".
bool is_complete_run(const std::filesystem::path& path);

// InputError (naming both paths; `argument` names the output, "--out") when a command would write `target` over one of its own
// `inputs`, over a run file, or over a run's learned delta (<id>[.<point>].delta.safetensors
// beside <id>.h5): nothing a run produced is ever replaced by another command (issue 41).
void refuse_to_replace_run_outputs(const std::filesystem::path& target,
                                   const std::vector<std::filesystem::path>& inputs, const std::string& argument);

}  // namespace pbench
