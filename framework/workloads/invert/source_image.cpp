#include "framework/workloads/invert/source_image.hpp"

#include <chrono>
#include <filesystem>

#include "datasets/dataset.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/duration.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/pipeline_options.hpp"
#include "framework/workloads/section_checks.hpp"
#include "metrics/metric.hpp"

namespace fs = std::filesystem;

namespace pbench {

SubjectData load_config_subject(const cfg::Node& config, int resolution) {
  auto dataset = chosen_entry(config, "dataset", datasets());
  const fs::path cache = run_cache_dir(config);
  return dataset.entry.factory.load(dataset.section, resolution, cache);
}

SourceImage load_source_image(const cfg::Node& config, const std::string& key, const std::optional<std::string>& image,
                              int64_t image_index, const std::optional<std::string>& prompt, int resolution,
                              const SubjectData* subject_ptr) {
  SourceImage src;
  if (image) {
    src.image = resize_image(center_crop_square(decode_image_file(*image)), resolution, resolution);
    src.description = *image;
    src.prompt = prompt.value_or("");
    return src;
  }
  if (!subject_ptr) throw std::logic_error("load_source_image: no image file and no subject");
  const SubjectData& subject = *subject_ptr;
  if (image_index >= int64_t(subject.images.size()))
    throw InputError(where_is(config, key + ".image_index") + ": " + std::to_string(image_index) + ", but subject '" +
                     subject.subject + "' has " + std::to_string(subject.images.size()) + " images (0-based)");
  src.image = subject.images[size_t(image_index)];
  src.description = subject.image_files[size_t(image_index)];
  src.prompt = prompt.value_or(subject.class_prompt);
  return src;
}

void check_source_image(const cfg::Node& resolved, const std::string& key, const std::optional<std::string>& image) {
  if (image) {
    std::error_code ec;
    if (!fs::is_regular_file(*image, ec))
      throw InputError(where_is(resolved, key + ".image") + ": " + *image +
                       ": no such image file (give a PNG or JPEG path, or null to use dataset.subject's image)");
    return;
  }
  if (!resolved.find("dataset"))
    throw InputError(where_is(resolved, key + ".image") + ": null, and the config has no dataset section to take the " +
                     "image from; set " + key + ".image to a file, or add dataset: {name: mini_world, subject: <name>}");
  check_dataset_section(resolved);
}

sample::StepCallback progress_log(std::ostream& log, const std::string& tag, const std::string& what) {
  auto start = std::chrono::steady_clock::now();
  return [&log, tag, what, start](int64_t done, int64_t total) {
    if (done != total && done % std::max<int64_t>(1, total / 10) != 0) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log << "[" << tag << "] " << what << " " << done << "/" << total << ", elapsed " << format_duration(seconds)
        << (done < total ? ", ETA " + format_duration(seconds / double(done) * double(total - done)) : "") << "\n";
  };
}

void write_float_array(hid_t group, const std::string& name, const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<hsize_t> dims(c.sizes().begin(), c.sizes().end());
  h5::write_array(group, name, h5::Type::Float32, dims, c.data_ptr<float>());
}

void write_inversion(RunFileWriter& file, const models::Pipeline& pipeline, const InversionRecord& r) {
  h5::Handle g = h5::ensure_group(file.root(), "inversion");
  h5::set_attr(g.id(), "method", r.method);
  h5::set_attr(g.id(), "steps", r.steps);
  h5::set_attr(g.id(), "guidance", r.guidance);
  h5::set_attr(g.id(), "prompt", r.prompt);
  h5::set_attr(g.id(), "image", r.image);
  // ᾱ the first inverse step starts from (framework/sample/ddim_inversion.hpp).
  h5::set_attr(g.id(), "first_alpha_cumprod",
               pipeline.scheduler.set_alpha_to_one ? 1.0
                                                   : sched::NoiseSchedule(pipeline.scheduler).alphas_cumprod[0].item<double>());
  h5::set_attr(g.id(), "latent_mse", r.latent_mse);
  write_float_array(g.id(), "latents", torch::cat(r.latents));
  if (r.null_embeddings.empty()) return;
  write_float_array(g.id(), "null_embeddings", torch::cat(r.null_embeddings));
  std::vector<int64_t> inner;
  std::vector<double> loss;
  for (const auto& s : r.null_steps) {
    inner.push_back(s.inner_steps);
    loss.push_back(s.loss);
  }
  h5::write_array(g.id(), "inner_steps", h5::Type::Int64, {inner.size()}, inner.data());
  h5::write_array(g.id(), "loss", h5::Type::Float64, {loss.size()}, loss.data());
}

void write_image_sample(RunFileWriter& file, const std::string& point, const torch::Tensor& u8, const std::string& prompt,
                        int64_t seed) {
  std::vector<std::string> prompts(size_t(u8.size(0)), prompt);
  std::vector<int64_t> seeds(size_t(u8.size(0)), seed);
  file.set_samples(point, bytes_of(u8), u8.size(0), u8.size(1), u8.size(2), prompts, seeds);
}

SourceMetricBackbones load_metric_backbones(const std::vector<std::string>& metrics, const std::string& clip_spec,
                                            const std::string& dino_spec) {
  SourceMetricBackbones b;
  for (const auto& name : metrics) {
    const auto& entry = metrics::metrics_registry().get(name, "metrics");
    if (entry.factory.backbone == "clip" && !b.clip) b.clip = models::load_clip_backbone(clip_spec);
    if (entry.factory.backbone == "dino" && !b.dino) b.dino = models::load_dino_backbone(dino_spec);
  }
  return b;
}

void score_against_source(RunContext& ctx, const std::string& point, const torch::Tensor& generated,
                          const std::vector<std::string>& prompts, const torch::Tensor& source,
                          const std::vector<std::string>& metrics, const SourceMetricBackbones& backbones,
                          const std::string& tag, const torch::Tensor& mask, const std::string& unique_token) {
  metrics::MetricBackbones use{backbones.clip ? &*backbones.clip : nullptr, backbones.dino ? &*backbones.dino : nullptr};
  // The source stands in as `real` too: no metric these workloads allow reads it (their checks
  // refuse metrics consuming `real`), and MetricInputs needs one.
  metrics::MetricInputs inputs(generated, prompts, source, unique_token, use);
  inputs.set_source(source);
  if (mask.defined()) inputs.set_mask(mask);
  MetricPoint mp;
  mp.clip_backbone = backbones.clip ? backbones.clip->source : "";
  mp.dino_backbone = backbones.dino ? backbones.dino->source : "";
  for (const auto& name : metrics) {
    metrics::MetricResult r = metrics::metrics_registry().get(name, "metrics").factory.compute(inputs);
    torch::Tensor v = r.per_image.contiguous();
    mp.scores.push_back(MetricScores{name, std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel())});
    ctx.log << "[" << tag << "]   " << point << " " << name << " = " << r.mean << "\n";
  }
  ctx.file.set_metrics(point, mp);
}

}  // namespace pbench
