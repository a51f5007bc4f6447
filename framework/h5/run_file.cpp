#include "framework/h5/run_file.hpp"
#include "framework/util/failpoint.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>

#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "framework/util/version.hpp"

namespace fs = std::filesystem;

namespace pbench {

std::string iso8601_utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}
}  // namespace

Provenance current_provenance() {
  Provenance p;
  p.git_commit = git_commit();
  p.pbench_version = pbench_version();
  p.cpu = cpu_model();
  p.host = host_name();
  auto env = [](const char* name) { const char* v = std::getenv(name); return std::string(v ? v : ""); };
  p.slurm_job_id = env("SLURM_JOB_ID");
  p.slurm_array_job_id = env("SLURM_ARRAY_JOB_ID");
  p.slurm_array_task_id = env("SLURM_ARRAY_TASK_ID");
  p.slurm_node = env("SLURMD_NODENAME");
  return p;
}

RunFileWriter::RunFileWriter(fs::path final_path, const std::string& run_id, const std::string& sweep,
                             const std::string& unresolved_yaml, const std::string& resolved_yaml,
                             const Provenance& prov)
    : final_(std::move(final_path)), partial_(final_.string() + ".partial"), lock_(final_) {
  std::error_code ec;
  fs::create_directories(final_.parent_path(), ec);
  fs::remove(partial_, ec);
  file_ = h5::create_file(partial_.string());
  hid_t root = file_.id();
  h5::set_attr(root, "schema_version", kRunSchemaVersion);
  h5::set_attr(root, "run_id", run_id);
  h5::set_attr(root, "sweep", sweep);
  {
    h5::Handle config = h5::ensure_group(root, "config");
    h5::write_string(config.id(), "resolved", resolved_yaml);
    h5::write_string(config.id(), "unresolved", unresolved_yaml);
  }
  {
    h5::Handle g = h5::ensure_group(root, "provenance");
    h5::set_attr(g.id(), "status", "running");
    h5::set_attr(g.id(), "error", "");
    h5::set_attr(g.id(), "git_commit", prov.git_commit);
    h5::set_attr(g.id(), "pbench_version", prov.pbench_version);
    h5::set_attr(g.id(), "torch_version", prov.torch_version);
    h5::set_attr(g.id(), "cpu", prov.cpu);
    h5::set_attr(g.id(), "threads", prov.threads);
    h5::set_attr(g.id(), "host", prov.host);
    h5::set_attr(g.id(), "slurm_job_id", prov.slurm_job_id);
    h5::set_attr(g.id(), "slurm_array_job_id", prov.slurm_array_job_id);
    h5::set_attr(g.id(), "slurm_array_task_id", prov.slurm_array_task_id);
    h5::set_attr(g.id(), "slurm_node", prov.slurm_node);
    h5::set_attr(g.id(), "start_time", iso8601_utc_now());
    h5::set_attr(g.id(), "end_time", "");
  }
  h5::ensure_group(root, "params/sd15");
  {
    h5::Handle g = h5::ensure_group(root, "train");
    h5::create_series(g.id(), "step", h5::Type::Int64);
    h5::create_series(g.id(), "loss", h5::Type::Float32);
    h5::create_series(g.id(), "lr", h5::Type::Float32);
    h5::create_series(g.id(), "wall_time", h5::Type::Float64);
  }
  {
    h5::Handle g = h5::ensure_group(root, "dvar");
    h5::create_series(g.id(), "step", h5::Type::Int64);
    h5::create_series(g.id(), "objective", h5::Type::Float32);
    h5::create_series(g.id(), "ratio", h5::Type::Float32);
  }
  set_dvar(DvarSettings{});
  {
    h5::Handle g = h5::ensure_group(root, "clip_stop");
    h5::create_series(g.id(), "step", h5::Type::Int64);
    h5::create_series(g.id(), "clip_i", h5::Type::Float64);
  }
  set_clip_stop(ClipStopSettings{});
  h5::ensure_group(root, "metrics");
  h5::ensure_group(root, "samples");
  flush();
}

RunFileWriter::~RunFileWriter() {
  // Leaves the .partial behind: an unfinished run is indistinguishable from a crash.
  file_.close();
}

void RunFileWriter::set_params(const std::string& group, const ParamCounts& c) {
  h5::Handle g = h5::ensure_group(file_.id(), group);
  h5::set_attr(g.id(), "method", c.method);
  h5::set_attr(g.id(), "trainable", c.trainable);
  h5::set_attr(g.id(), "total", c.total);
  h5::set_attr(g.id(), "delta_bytes_fp32", c.delta_bytes_fp32);
  h5::set_attr(g.id(), "delta_bytes_fp16", c.delta_bytes_fp16);
}

void RunFileWriter::append_train(int64_t step, float loss, float lr, double wall_time) {
  h5::Handle g = h5::open_group(file_.id(), "train");
  h5::append_row(g.id(), "step", h5::Type::Int64, &step);
  h5::append_row(g.id(), "loss", h5::Type::Float32, &loss);
  h5::append_row(g.id(), "lr", h5::Type::Float32, &lr);
  h5::append_row(g.id(), "wall_time", h5::Type::Float64, &wall_time);
}

void RunFileWriter::append_dvar(int64_t step, float objective, float ratio) {
  h5::Handle g = h5::open_group(file_.id(), "dvar");
  h5::append_row(g.id(), "step", h5::Type::Int64, &step);
  h5::append_row(g.id(), "objective", h5::Type::Float32, &objective);
  h5::append_row(g.id(), "ratio", h5::Type::Float32, &ratio);
}

void RunFileWriter::set_train_cost(int64_t forward_images_per_step, int64_t backward_images_per_step) {
  h5::Handle g = h5::ensure_group(file_.id(), "train");
  h5::set_attr(g.id(), "forward_images_per_step", forward_images_per_step);
  h5::set_attr(g.id(), "backward_images_per_step", backward_images_per_step);
}

void RunFileWriter::set_dvar(const DvarSettings& s) {
  h5::Handle g = h5::ensure_group(file_.id(), "dvar");
  h5::set_attr(g.id(), "window", s.window);
  h5::set_attr(g.id(), "threshold", s.threshold);
  h5::set_attr(g.id(), "mode", s.mode);
  h5::set_attr(g.id(), "stop_step", s.stop_step);
}

void RunFileWriter::append_clip_stop(int64_t step, double clip_i) {
  h5::Handle g = h5::open_group(file_.id(), "clip_stop");
  h5::append_row(g.id(), "step", h5::Type::Int64, &step);
  h5::append_row(g.id(), "clip_i", h5::Type::Float64, &clip_i);
}

void RunFileWriter::set_clip_stop(const ClipStopSettings& s) {
  h5::Handle g = h5::ensure_group(file_.id(), "clip_stop");
  h5::set_attr(g.id(), "mode", s.mode);
  h5::set_attr(g.id(), "every", s.every);
  h5::set_attr(g.id(), "num_prompts", s.num_prompts);
  h5::set_attr(g.id(), "sampling_steps", s.sampling_steps);
  h5::set_attr(g.id(), "delta", s.delta);
  h5::set_attr(g.id(), "patience", s.patience);
  h5::set_attr(g.id(), "stop_step", s.stop_step);
}

double MetricScores::mean() const {
  if (per_image.empty()) return std::nan("");
  double s = 0;
  for (double x : per_image) s += x;
  return s / double(per_image.size());
}

const std::vector<std::string>& schema_metric_names() {
  static const std::vector<std::string> names = {"clip_i", "clip_t", "dino"};
  return names;
}

void RunFileWriter::set_metrics(const std::string& point, const MetricPoint& m) {
  h5::Handle g = h5::ensure_group(file_.id(), "metrics/" + point);
  h5::set_attr(g.id(), "step", m.step);
  h5::set_attr(g.id(), "clip_backbone", m.clip_backbone);
  h5::set_attr(g.id(), "dino_backbone", m.dino_backbone);
  if (!m.variant.empty()) {
    h5::set_attr(g.id(), "variant", m.variant);
    h5::set_attr(g.id(), "objective", m.objective);
  }
  // Every metric that ran, then the schema-1 names that did not (NaN, empty): a reader
  // finds a metric as an attribute with a same-named per-image array beside it.
  std::vector<MetricScores> all = m.scores;
  for (const auto& name : schema_metric_names())
    if (std::none_of(all.begin(), all.end(), [&](const MetricScores& s) { return s.name == name; }))
      all.push_back(MetricScores{name, {}});
  for (size_t i = 0; i < all.size(); ++i) {
    const MetricScores& s = all[i];
    h5::set_attr(g.id(), s.name, s.mean());
    h5::write_array(g.id(), s.name, h5::Type::Float64, {s.per_image.size()}, s.per_image.data());
    if (i == 0) failpoint("run_file.write");  // a group half written
  }
}

void RunFileWriter::set_real_baselines(const std::vector<std::pair<std::string, double>>& by_metric) {
  h5::Handle g = h5::ensure_group(file_.id(), "metrics");
  auto has = [&](const std::string& name) {
    return std::any_of(by_metric.begin(), by_metric.end(), [&](const auto& b) { return b.first == name; });
  };
  for (const auto& [name, value] : by_metric) h5::set_attr(g.id(), name + "_real", value);
  for (const char* name : {"clip_i", "dino"})
    if (!has(name)) h5::set_attr(g.id(), std::string(name) + "_real", std::nan(""));
}

void RunFileWriter::set_continual(const ContinualRecord& c) {
  const hsize_t tasks = c.subjects.size();
  h5::Handle g = h5::ensure_group(file_.id(), "continual");
  h5::write_strings(g.id(), "subjects", c.subjects);
  h5::write_strings(g.id(), "delta_files", c.delta_files);
  std::vector<std::string> metrics;
  for (const auto& m : c.matrices) metrics.push_back(m.first);
  h5::write_strings(g.id(), "metrics", metrics);
  h5::write_array(g.id(), "steps", h5::Type::Int64, {hsize_t(c.steps.size())}, c.steps.data());
  h5::write_array(g.id(), "dvar_stop_step", h5::Type::Int64, {hsize_t(c.dvar_stop_steps.size())},
                  c.dvar_stop_steps.data());
  for (const auto& [metric, matrix] : c.matrices) {
    if (matrix.size() != tasks * tasks) throw std::invalid_argument("set_continual: " + metric + " is not [T, T]");
    h5::write_array(g.id(), metric, h5::Type::Float64, {tasks, tasks}, matrix.data());
  }
}

void RunFileWriter::set_samples(const std::string& point, const std::vector<uint8_t>& images, int64_t n,
                                int64_t height, int64_t width, const std::vector<std::string>& prompts,
                                const std::vector<int64_t>& seeds) {
  if (images.size() != size_t(n * height * width * 3))
    throw std::invalid_argument("set_samples: image buffer does not match [n, h, w, 3]");
  h5::Handle g = h5::ensure_group(file_.id(), "samples/" + point);
  h5::write_array(g.id(), "images", h5::Type::UInt8, {hsize_t(n), hsize_t(height), hsize_t(width), 3}, images.data());
  if (point != "real") {
    h5::write_strings(g.id(), "prompts", prompts);
    h5::write_array(g.id(), "seeds", h5::Type::Int64, {seeds.size()}, seeds.data());
  }
}

void RunFileWriter::flush() { h5::flush(file_.id()); }

void RunFileWriter::complete() { finish("complete", ""); }
void RunFileWriter::fail(const std::string& error) { finish("failed", error); }

void RunFileWriter::finish(const std::string& status, const std::string& error) {
  if (finished_) throw std::logic_error("run file finished twice");
  {
    h5::Handle g = h5::open_group(file_.id(), "provenance");
    h5::set_attr(g.id(), "status", status);
    h5::set_attr(g.id(), "error", error);
    h5::set_attr(g.id(), "end_time", iso8601_utc_now());
  }
  flush();
  file_.close();
  failpoint("run_file.rename");
  fs::rename(partial_, final_);  // atomic on one file system
  failpoint("run_file.renamed");
  finished_ = true;
}

RunFileSummary read_run_summary(const fs::path& path) {
  h5::Handle file = h5::open_file(path.string(), false);
  RunFileSummary s;
  hid_t root = file.id();
  try {
    s.schema_version = h5::attr_int(root, "schema_version");
    s.run_id = h5::attr_string(root, "run_id");
    s.sweep = h5::attr_string(root, "sweep");
    h5::Handle prov = h5::open_group(root, "provenance");
    s.status = h5::attr_string(prov.id(), "status");
    s.error = h5::attr_string(prov.id(), "error");
    s.start_time = h5::attr_string(prov.id(), "start_time");
    s.end_time = h5::attr_string(prov.id(), "end_time");
  } catch (const std::exception& e) {
    throw InputError(path.string() + ": not a pbench run file (" + e.what() + ")");
  }
  return s;
}

void refuse_to_replace_run_outputs(const fs::path& target, const std::vector<fs::path>& inputs,
                                   const std::string& argument) {
  std::error_code ec;
  for (const auto& input : inputs)
    if (fs::equivalent(target, input, ec))
      throw InputError(argument + " " + target.string() + ": is also the input " + input.string() +
                       "; write the output to another file");
  if (!fs::exists(target, ec)) return;
  if (target.extension() == ".h5") {
    std::optional<RunFileSummary> run;
    try {
      run = read_run_summary(target);
    } catch (const InputError&) {  // not a run file: an ordinary file the user may replace
    }
    if (run)
      throw InputError(argument + " " + target.string() + ": is the run file of run " + run->run_id +
                       "; it is never replaced: write the output to another file");
  }
  const std::string name = target.filename().string();
  if (ends_with(name, ".delta.safetensors")) {
    const fs::path run = target.parent_path() / (name.substr(0, name.find('.')) + ".h5");
    if (fs::exists(run, ec))
      throw InputError(argument + " " + target.string() + ": is the learned delta of " + run.string() +
                       "; it is never replaced: write the output to another file");
  }
}

std::optional<RunFileSummary> complete_run_summary(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    RunFileSummary s = read_run_summary(path);
    if (s.status == "complete") return s;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

bool is_complete_run(const fs::path& path) { return complete_run_summary(path).has_value(); }

}  // namespace pbench
