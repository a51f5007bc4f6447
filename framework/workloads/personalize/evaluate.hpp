#pragma once
// Evaluating a personalize run: sample the evaluation grid with the method in
// its current state and score it with every metric of eval.metrics, as the
// point /samples/<point> and /metrics/<point> of the run file.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/run/workload.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/method.hpp"
#include "framework/workloads/personalize/config.hpp"

namespace pbench::personalize {

// The metric backbones eval.metrics needs (CLIP for clip_i / clip_t, DINO for dino), and CLIP
// when need_clip (CLIP early stopping); absent when nothing needs them. Loaded once per run:
// copies share the modules.
struct EvalBackbones {
  std::optional<models::ClipBackbone> clip;
  std::optional<models::DinoBackbone> dino;
};
EvalBackbones load_eval_backbones(const EvalOptions& eval, bool need_clip = false);

struct Evaluator {
  const EvalOptions& eval;
  models::Pipeline& pipeline;
  Method& method;
  const SubjectData& subject;
  RunContext& ctx;
  std::optional<models::ClipBackbone> clip;
  std::optional<models::DinoBackbone> dino;
  std::string log_tag = "[personalize]";  // the workload's, at the head of each progress line

  // load_eval_backbones into clip and dino.
  void load_backbones(bool need_clip = false);
  // Samples the evaluation grid with the method as it is now (its prompts: Method::eval_prompt).
  sample::SampleSet sample_grid(const std::string& point, int64_t step);
  // sample_grid, then score_point. Variant points (final_<variant>) also record the variant
  // and its DVAR objective. Returns what it wrote under /metrics/<point>.
  MetricPoint run_point(const std::string& point, int64_t step, bool write_baselines, const std::string& variant = "",
                 double objective = std::nan(""));
  // Writes `set` as /samples/<point> and its scores as /metrics/<point> (and, with
  // write_baselines, the subject's real images and real-vs-real baselines); returns the scores.
  MetricPoint score_point(const std::string& point, const sample::SampleSet& set, int64_t step, bool write_baselines,
                   const std::string& variant = "", double objective = std::nan(""));
  // The real images the metrics compare with (the originals' squares, not the training copies).
  torch::Tensor real_images() const;
};

}  // namespace pbench::personalize
