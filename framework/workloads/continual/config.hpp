#pragma once
// The continual workload's config, typed (framework/config/options.hpp): the engine's model,
// train, dvar and eval sections (personalize/config.hpp: the same keys and defaults, one
// definition) plus `continual:`, the sequence of subjects.
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/train/dvar.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/personalize/config.hpp"
#include "framework/workloads/pipeline_options.hpp"

namespace pbench::continual {

struct ContinualSection {
  std::vector<std::string> subjects;

  template <class V>
  void fields(V& v) {
    v("subjects", subjects,
      "the dataset's subjects, one task each, learnt in this order (at least two; dataset.subject is replaced per task)");
  }
};

struct ContinualOptions {
  ModelOptions model;
  TrainOptions train;  // per task (train.steps: method = the method's budget per task)
  DvarOptions dvar;    // per task: stop mode stops each task at its own stop step
  personalize::EvalOptions eval;  // after each task, on every subject learnt so far (baseline, at_dvar_stop: unused)
  ContinualSection continual;
  Device device = Device::cpu;
  Dtype dtype = Dtype::fp32;

  template <class V>
  void fields(V& v) {
    v("model", model, "the pipeline to personalize");
    v("train", train, "the training loop of each task");
    v("dvar", dvar, "DVAR's deterministic objective and stop rule, per task");
    v("eval", eval, "sampling and scoring after each task (eval.baseline and eval.at_dvar_stop are not used)");
    v("continual", continual, "the sequence of subjects");
    v("device", device, "where the run computes");
    v("dtype", dtype, "the pipeline's weights and activations");
  }
};

ContinualOptions read_options(const cfg::Node& resolved);
const cfg::Node& continual_defaults();
// Workload::check: the sections' types and ranges, at least two distinct subjects, each one a
// subject of the dataset, and a method and metrics the workload can run.
void check_config(const cfg::Node& resolved);

}  // namespace pbench::continual
