// The `continual` workload (continual.hpp). Per task t (subject continual.subjects[t]):
//   the method's task plan (Method::continual_task) -> a fresh pipeline, the subject, the
//   method attached with the task's options (and task t-1's delta for sequential fine-tuning)
//   -> train with DVAR -> save <id>.task_<t>.delta.safetensors -> sample and score subjects
//   1..t, each with the prompts of the task that learnt it.
// Chosen (not in the paper): every task draws its own seed from the run's (derive_seed), the
// evaluation grid uses the run's seed at every point, so one subject's images are comparable
// across tasks; the /train and /dvar curves run on one step axis across tasks.
#include "framework/workloads/continual/continual.hpp"

#include <ostream>

#include "framework/config/access.hpp"
#include "framework/report/continual_scores.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/seeds.hpp"
#include "framework/workloads/continual/config.hpp"
#include "framework/workloads/personalize/budget.hpp"
#include "framework/workloads/personalize/evaluate.hpp"
#include "framework/workloads/personalize/setup.hpp"
#include "framework/workloads/section_checks.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

using continual::ContinualOptions;

// The metric points of the run file: the model after task t (1-based) on subject s (1-based).
std::string point_name(size_t task, size_t subject) {
  return "task_" + std::to_string(task + 1) + "_subject_" + std::to_string(subject + 1);
}

// The last task's points as one: every subject's images and scores, in subject order.
void write_final_point(RunFileWriter& file, const std::vector<sample::SampleSet>& sets,
                       const std::vector<MetricPoint>& points) {
  std::vector<torch::Tensor> images;
  std::vector<std::string> prompts;
  std::vector<int64_t> seeds;
  for (const auto& set : sets) {
    images.push_back(set.images);
    prompts.insert(prompts.end(), set.prompts.begin(), set.prompts.end());
    seeds.insert(seeds.end(), set.seeds.begin(), set.seeds.end());
  }
  const torch::Tensor all = torch::cat(images).contiguous();
  file.set_samples("final", bytes_of(all), all.size(0), all.size(1), all.size(2), prompts, seeds);
  MetricPoint final_point = points.front();
  for (size_t p = 1; p < points.size(); ++p)
    for (size_t m = 0; m < final_point.scores.size(); ++m) {
      const auto& more = points[p].scores[m].per_image;
      auto& into = final_point.scores[m].per_image;
      into.insert(into.end(), more.begin(), more.end());
    }
  file.set_metrics("final", final_point);
}

void run_continual(RunContext& ctx) {
  const ContinualOptions o = continual::read_options(ctx.config);
  const ChosenMethod& chosen = ctx.chosen_method();
  const std::string& model_spec = o.model.spec();
  const torch::TensorOptions tensor_options = pipeline_tensor_options(o.device, o.dtype, ctx.config);
  const fs::path cache = run_cache_dir(ctx.config);
  const auto dataset = chosen_entry(ctx.config, "dataset", datasets());
  const std::vector<std::string>& names = o.continual.subjects;
  const size_t tasks = names.size();
  personalize::record_sd15_counts(ctx, chosen);  // one task's counts (C-LoRA's past is frozen)
  DvarSettings dvar_attrs{o.dvar.window, o.dvar.threshold, cfg::enum_name(o.dvar.mode), -1};
  ctx.file.set_dvar(dvar_attrs);  // stop_step stays -1: each task's is /continual/dvar_stop_step
  ctx.file.set_clip_stop(ClipStopSettings{});
  ctx.file.flush();

  const std::unique_ptr<Method> rule = chosen.build();  // Method::continual_task; never attached
  const cfg::Node& base_section = cfg::require(ctx.config, "method");
  ContinualRecord record;
  record.subjects = names;
  std::vector<std::pair<std::string, std::vector<double>>>& matrices = record.matrices;
  for (const std::string& m : o.eval.metrics) matrices.emplace_back(m, std::vector<double>(tasks * tasks, std::nan("")));

  std::vector<SubjectData> subjects(tasks);
  std::vector<cfg::Node> sections;                // each task's method section
  std::vector<std::unique_ptr<Method>> prompters;  // each task's instance, unattached: its eval_prompt
  const personalize::EvalBackbones backbones =
      o.eval.enabled ? personalize::load_eval_backbones(o.eval) : personalize::EvalBackbones{};
  int64_t step_offset = 0;
  for (size_t t = 0; t < tasks; ++t) {
    const ContinualTask plan = rule->continual_task(int64_t(t), record.delta_files);
    cfg::Node section = base_section;
    for (const auto& [key, value] : plan.options) section.set(key, value);
    const ChosenMethod task_method = read_method(section);
    ctx.log << "[continual] task " << t + 1 << "/" << tasks << ": subject " << names[t] << "\n";

    models::Pipeline pipeline = models::load_pipeline(model_spec, tensor_options);
    cfg::Node subject_section = dataset.section;
    subject_section.set("subject", cfg::Node::string(names[t]));
    subjects[t] = dataset.entry.factory.load(subject_section, int(pipeline.resolution), cache);
    std::unique_ptr<Method> method = task_method.build();
    freeze_pipeline(pipeline);
    const int64_t task_seed = int64_t(derive_seed(ctx.seed, "continual_task_" + std::to_string(t)) >> 1);
    auto prior = personalize::load_prior(*method, subjects[t], pipeline, model_spec, o.train.num_class_images,
                                         task_seed, o.eval.sampling(), cache, ctx.log);
    MethodTarget target{pipeline, &subjects[t], method_init_generator(task_seed), cache};
    method->attach(target);
    if (t > 0 && plan.load_previous_delta) method->load_delta(load_safetensors(record.delta_files.back()));
    const MethodCounts counts = counts_of_attached(*method, pipeline);
    if (t == 0) ctx.file.set_params("params", personalize::to_counts(chosen.name, counts));
    ctx.log << "[continual] " << method->describe() << ": " << counts.trainable << " trainable parameters"
            << (t > 0 && plan.load_previous_delta ? ", from task " + std::to_string(t) + "'s delta" : "") << "\n";

    Trainer trainer(pipeline, *method, subjects[t], o.train, o.dvar, task_seed);
    if (prior) trainer.set_prior(prior->images, prior->set.class_prompt, prior->set.loss_weight);
    const TrainResult result = trainer.run(personalize::run_file_callbacks(ctx, step_offset));
    step_offset += result.steps_trained;
    record.steps.push_back(result.steps_trained);
    record.dvar_stop_steps.push_back(result.dvar_stop_step);
    ctx.file.set_train_cost(result.forward_images_per_step, result.backward_images_per_step);

    fs::path base = ctx.file.final_path();
    base.replace_extension("");
    const std::string delta_file = base.string() + ".task_" + std::to_string(t + 1) + ".delta.safetensors";
    save_safetensors(delta_file, method->delta(),
                     {{"method", chosen.name}, {"run_id", ctx.run_id}, {"task", std::to_string(t + 1)},
                      {"subject", names[t]}});
    record.delta_files.push_back(delta_file);
    sections.push_back(section);
    prompters.push_back(task_method.build());

    if (!o.eval.enabled) continue;
    std::vector<sample::SampleSet> row_sets;
    std::vector<MetricPoint> row_points;
    for (size_t s = 0; s <= t; ++s) {
      // Subject s is prompted as task s learnt it (C-LoRA: its own token); the model is task t's.
      Method& prompter = sections[s] == section ? *method : *prompters[s];
      personalize::Evaluator evaluator{o.eval, pipeline, prompter, subjects[s], ctx, backbones.clip, backbones.dino,
                                       "[continual]"};
      const std::string point = point_name(t, s);
      sample::SampleSet set = evaluator.sample_grid(point, step_offset);
      MetricPoint scores = evaluator.score_point(point, set, step_offset, /*write_baselines=*/false);
      for (size_t m = 0; m < matrices.size(); ++m) matrices[m].second[t * tasks + s] = scores.scores[m].mean();
      if (t + 1 == tasks) {
        row_sets.push_back(std::move(set));
        row_points.push_back(std::move(scores));
      }
    }
    if (t + 1 == tasks) write_final_point(ctx.file, row_sets, row_points);
  }
  ctx.file.set_continual(record);
  for (const auto& [metric, matrix] : matrices) {
    const report::ContinualScores summary = report::continual_scores(matrix, tasks);
    ctx.log << "[continual] " << metric << ": average " << summary.average << ", forgetting " << summary.forgetting
            << " (final minus best per earlier subject)\n";
  }
  ctx.log << "[continual] trained " << tasks << " tasks, " << step_offset << " steps\n";
}

}  // namespace

void register_continual_workload(Registry<Workload>& registry) {
  registry.add(EntryInfo{"continual",
                         "learn a sequence of subjects one task after another, scoring every subject learnt so far "
                         "after each task (C-LoRA's protocol)",
                         continual::continual_defaults()},
               Workload{run_continual, continual::check_config, personalize::with_method_budget,
                        cfg::option_docs<ContinualOptions>()});
}

}  // namespace pbench
