#pragma once
// CLIP early stopping run beside DVAR (framework/train/clip_stop.hpp for the rule
// and how K is scaled): every K steps, after the update, the method samples the
// first clip_stop.num_prompts evaluation prompts (one image each, on the seeds of
// the final evaluation's first image per prompt, so checks differ only by the
// weights) and scores CLIP-I against the subject's real images. Sampling draws
// from its own per-image streams, so training is the same with the monitor on or
// off. In monitor mode the delta of the step where the rule fires is kept, to be
// evaluated as /metrics/clip_stop. Built only when clip_stop.mode is not off.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/clip_stop.hpp"
#include "framework/train/method.hpp"

namespace pbench::personalize {

struct ClipCheck {
  int64_t step = 0;
  double clip_i = 0.0;
  bool fired = false;  // the rule fired at this check
};

class ClipStopMonitor {
 public:
  // `sampling`: the evaluation's sampler (guidance, eta); its steps are replaced by
  // clip_stop.sampling_steps when that is set. `real`: uint8 [M, H, W, 3].
  ClipStopMonitor(const ClipStopOptions& config, int64_t train_steps, sample::SamplingOptions sampling,
                  models::Pipeline& pipeline, Method& method, const SubjectData& subject,
                  const models::ClipBackbone& clip, torch::Tensor real, int64_t seed, std::ostream& log);

  // Called after step's update: a check when step is a multiple of K, else nothing.
  std::optional<ClipCheck> after_step(int64_t step);

  int64_t interval() const { return every_; }
  int64_t stop_step() const { return stop_step_; }  // -1 until the rule fires
  const TensorMap& delta_at_stop() const { return delta_at_stop_; }

 private:
  double sample_clip_i();

  ClipStopOptions config_;
  int64_t every_;
  sample::SamplingOptions sampling_;
  models::Pipeline& pipeline_;
  Method& method_;
  const SubjectData& subject_;
  const models::ClipBackbone& clip_;
  torch::Tensor real_;
  int64_t seed_;
  std::ostream& log_;
  std::vector<std::string> prompts_;
  ClipStopRule rule_;
  int64_t stop_step_ = -1;
  TensorMap delta_at_stop_;
};

}  // namespace pbench::personalize
