#include "framework/workloads/personalize/clip_stop_monitor.hpp"

#include <algorithm>
#include <ostream>

#include "framework/train/guidance_prompts.hpp"
#include "metrics/metric.hpp"

namespace pbench::personalize {

ClipStopMonitor::ClipStopMonitor(const ClipStopOptions& config, int64_t train_steps, sample::SamplingOptions sampling,
                                 models::Pipeline& pipeline, Method& method, const SubjectData& subject,
                                 const models::ClipBackbone& clip, torch::Tensor real, int64_t seed, std::ostream& log)
    : config_(config), every_(config.interval(train_steps)), sampling_(std::move(sampling)), pipeline_(pipeline),
      method_(method), subject_(subject), clip_(clip), real_(std::move(real)), seed_(seed), log_(log), rule_(config) {
  if (config_.sampling_steps > 0) sampling_.num_inference_steps = config_.sampling_steps;
  prompts_ = subject_.eval_prompts;
  prompts_.resize(size_t(std::min<int64_t>(config_.num_prompts, int64_t(prompts_.size()))));
  log_ << "[personalize] CLIP early stopping (" << cfg::enum_name(config_.mode) << "): every " << every_ << " steps, "
       << prompts_.size() << " prompts x " << sampling_.num_inference_steps << " DDIM steps, delta " << config_.delta
       << ", patience " << config_.patience << "\n";
}

double ClipStopMonitor::sample_clip_i() {
  // Sampling in eval mode (no dropout), then back to training.
  const bool unet_training = pipeline_.unet->is_training(), text_training = pipeline_.text_encoder->is_training();
  pipeline_.unet->eval();
  pipeline_.text_encoder->eval();
  GuidanceEncoders encoders = guidance_encoders(method_, pipeline_, subject_);
  sample::SampleSet set =
      sample::sample_images(pipeline_, sample::grid_jobs(prompts_, 1), seed_, sampling_, encoders.cond, encoders.negative);
  pipeline_.unet->train(unet_training);
  pipeline_.text_encoder->train(text_training);
  metrics::MetricInputs inputs(set.images, set.prompts, real_, subject_.unique_token, {&clip_, nullptr});
  return metrics::metrics_registry().get("clip_i", "clip_stop").factory.compute(inputs).mean;
}

std::optional<ClipCheck> ClipStopMonitor::after_step(int64_t step) {
  if (step % every_ != 0 || rule_.triggered()) return std::nullopt;
  ClipCheck check;
  check.step = step;
  check.clip_i = sample_clip_i();
  check.fired = rule_.add(check.clip_i);
  log_ << "[personalize] CLIP check at step " << step << ": CLIP-I " << check.clip_i << " (best " << rule_.best()
       << ", " << rule_.checks_without_improvement() << " without improvement)\n";
  if (check.fired) {
    stop_step_ = step;
    for (const auto& [k, v] : method_.delta()) delta_at_stop_[k] = v.detach().clone();
    log_ << "[personalize] CLIP early stopping fired at step " << step << "\n";
  }
  return check;
}

}  // namespace pbench::personalize
