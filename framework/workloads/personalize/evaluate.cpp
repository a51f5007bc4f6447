#include "framework/workloads/personalize/evaluate.hpp"

#include <algorithm>
#include <ostream>

#include "framework/config/access.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/guidance_prompts.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/personalize/config.hpp"
#include "framework/workloads/personalize/setup.hpp"
#include "metrics/metric.hpp"

namespace pbench::personalize {

EvalBackbones load_eval_backbones(const EvalOptions& eval, bool need_clip) {
  EvalBackbones b;
  if (need_clip) b.clip = models::load_clip_backbone(eval.clip_backbone);
  for (const auto& name : eval.metrics) {
    const auto& entry = metrics::metrics_registry().get(name, "eval.metrics");  // checked at plan time (check_config)
    if (entry.factory.backbone == "clip" && !b.clip) b.clip = models::load_clip_backbone(eval.clip_backbone);
    if (entry.factory.backbone == "dino" && !b.dino) b.dino = models::load_dino_backbone(eval.dino_backbone);
  }
  return b;
}

void Evaluator::load_backbones(bool need_clip) {
  EvalBackbones b = load_eval_backbones(eval, need_clip);
  clip = std::move(b.clip);
  dino = std::move(b.dino);
}

torch::Tensor Evaluator::real_images() const {
  return images_u8(subject.metric_images.empty() ? subject.images : subject.metric_images);
}

sample::SampleSet Evaluator::sample_grid(const std::string& point, int64_t step) {
  auto jobs = sample::grid_jobs(evaluation_prompts(eval, subject), eval.images_per_prompt);
  GuidanceEncoders encoders = guidance_encoders(method, pipeline, subject);
  ctx.log << log_tag << " sampling " << jobs.size() << " images at " << point << " (step " << step << ")\n";
  int64_t last_reported = -1;
  auto progress = [&](const sample::SamplingProgress& pr) {
    if (pr.images_done != last_reported && pr.step == pr.num_steps) {
      last_reported = pr.images_done;
      ctx.log << log_tag << "   " << pr.images_done << "/" << pr.images_total << " images\n";
    }
  };
  return sample::sample_images(pipeline, jobs, ctx.seed, eval.sampling(), encoders.cond, encoders.negative, progress);
}

MetricPoint Evaluator::run_point(const std::string& point, int64_t step, bool write_baselines,
                                 const std::string& variant, double objective) {
  return score_point(point, sample_grid(point, step), step, write_baselines, variant, objective);
}

MetricPoint Evaluator::score_point(const std::string& point, const sample::SampleSet& set, int64_t step, bool write_baselines,
                            const std::string& variant, double objective) {
  ctx.file.set_samples(point, bytes_of(set.images), set.images.size(0), set.images.size(1), set.images.size(2),
                       set.prompts, set.seeds);
  torch::Tensor real = real_images();
  metrics::MetricBackbones backbones{clip ? &*clip : nullptr, dino ? &*dino : nullptr};
  metrics::MetricInputs inputs(set.images, set.prompts, real, subject.unique_token, backbones);
  MetricPoint mp;
  mp.step = step;
  mp.variant = variant;
  mp.objective = objective;
  mp.clip_backbone = clip ? clip->source : "";
  mp.dino_backbone = dino ? dino->source : "";
  // Every registered metric the config names, alike: its scores under its own name
  // (/metrics/<point>/<name>) and its real-vs-real baseline where it has one.
  std::vector<std::pair<std::string, double>> baselines;
  for (const auto& name : eval.metrics) {
    metrics::MetricResult r = metrics::metrics_registry().get(name, "eval.metrics").factory.compute(inputs);
    torch::Tensor v = r.per_image.to(torch::kFloat64).contiguous();
    mp.scores.push_back(MetricScores{name, std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel())});
    if (r.real_baseline) baselines.emplace_back(name, *r.real_baseline);
    ctx.log << log_tag << "   " << name << " = " << r.mean << "\n";
  }
  ctx.file.set_metrics(point, mp);
  if (write_baselines) {
    ctx.file.set_samples("real", bytes_of(real), real.size(0), real.size(1), real.size(2), {}, {});
    ctx.file.set_real_baselines(baselines);
  }
  ctx.file.flush();
  return mp;
}

}  // namespace pbench::personalize
