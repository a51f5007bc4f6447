// The `personalize` workload: what `pbench run` does for a method run (setup.cpp,
// the training loop here, evaluate.cpp; its config and checks in config.cpp).
//   load the pipeline (model.name) -> load the subject (dataset) -> attach the
//   method -> count parameters (this model and SD v1.5) -> train with DVAR ->
//   score the frozen model's class-word samples (`baseline`, baseline.hpp) ->
//   train with DVAR and CLIP early stopping beside it (clip_stop_monitor.hpp) ->
//   save the learned delta next to the run file -> sample and score the final
//   weights (`final`), each of the method's evaluation variants (`final_<variant>`,
//   e.g. DyLoRA's ranks, from the same delta), and the stop steps' deltas
//   (`dvar_stop`, `clip_stop`).
#include "framework/workloads/personalize/personalize.hpp"

#include <cmath>
#include <ostream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/personalize/budget.hpp"
#include "framework/workloads/personalize/clip_stop_monitor.hpp"
#include "framework/workloads/personalize/config.hpp"
#include "framework/workloads/personalize/evaluate.hpp"
#include "framework/workloads/personalize/setup.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

using namespace personalize;

void run_personalize(RunContext& ctx) {
  Setup s;
  set_up(ctx, s);
  const TrainOptions& train_options = s.options.train;
  const DvarOptions& dvar_options = s.options.dvar;
  const EvalOptions& eval = s.options.eval;
  DvarSettings dvar_attrs{dvar_options.window, dvar_options.threshold, cfg::enum_name(dvar_options.mode), -1};
  ctx.file.set_dvar(dvar_attrs);
  ctx.file.flush();

  const bool evaluate = eval.enabled;
  Evaluator evaluator{eval, s.pipeline, *s.method, s.subject, ctx, std::nullopt, std::nullopt};
  ClipStopOptions clip_config = s.options.clip_stop;
  if (!evaluate) clip_config.mode = StopMode::off;  // no evaluation: no metric backbones either
  if (evaluate) evaluator.load_backbones(/*need_clip=*/clip_config.mode != StopMode::off);
  std::optional<ClipStopMonitor> clip_monitor;
  ClipStopSettings clip_attrs;
  if (clip_config.mode != StopMode::off) {
    clip_monitor.emplace(clip_config, train_options.steps, eval.sampling(), s.pipeline, *s.method, s.subject,
                         *evaluator.clip, evaluator.real_images(), ctx.seed, ctx.log);
    clip_attrs = ClipStopSettings{cfg::enum_name(clip_config.mode), clip_monitor->interval(), clip_config.num_prompts,
                                  clip_config.sampling_steps > 0 ? clip_config.sampling_steps : eval.steps,
                                  clip_config.patience, clip_config.delta, -1};
  }
  ctx.file.set_clip_stop(clip_attrs);
  // The frozen model's class-word samples, scored before training (sampled in set_up, before attach).
  if (s.baseline) evaluator.score_point("baseline", *s.baseline, 0, /*write_baselines=*/false);

  Trainer trainer(s.pipeline, *s.method, s.subject, train_options, dvar_options, ctx.seed);
  if (s.prior) trainer.set_prior(s.prior_images, s.prior->class_prompt, s.prior->loss_weight);
  TrainCallbacks callbacks = run_file_callbacks(ctx);
  if (clip_monitor)
    callbacks.after_update = [&](int64_t step) {
      std::optional<ClipCheck> check = clip_monitor->after_step(step);
      if (!check) return false;
      ctx.file.append_clip_stop(check->step, check->clip_i);
      return check->fired && clip_config.mode == StopMode::stop;
    };
  TrainResult result = trainer.run(callbacks);
  record_trained_counts(ctx, s);
  ctx.file.set_train_cost(result.forward_images_per_step, result.backward_images_per_step);
  dvar_attrs.stop_step = result.dvar_stop_step;
  ctx.file.set_dvar(dvar_attrs);
  if (clip_monitor) {
    clip_attrs.stop_step = clip_monitor->stop_step();
    ctx.file.set_clip_stop(clip_attrs);
  }

  if (train_options.save_delta) {
    fs::path base = ctx.file.final_path();
    base.replace_extension("");
    save_safetensors(base.string() + ".delta.safetensors", s.method->delta(), {{"method", s.method_name}, {"run_id", ctx.run_id}});
    if (!result.delta_at_dvar_stop.empty())
      save_safetensors(base.string() + ".dvar_stop.delta.safetensors", result.delta_at_dvar_stop,
                       {{"method", s.method_name}, {"run_id", ctx.run_id}, {"step", std::to_string(result.dvar_stop_step)}});
    if (clip_monitor && clip_monitor->stop_step() > 0)
      save_safetensors(base.string() + ".clip_stop.delta.safetensors", clip_monitor->delta_at_stop(),
                       {{"method", s.method_name}, {"run_id", ctx.run_id}, {"step", std::to_string(clip_monitor->stop_step())}});
  }
  if (evaluate) {
    evaluator.run_point("final", result.steps_trained, /*write_baselines=*/true);
    // Evaluation variants (DyLoRA's ranks): the same trained delta scored another way, each
    // with DVAR's deterministic objective under it; then back to the method's default. Before
    // dvar_stop, which loads the delta of the stop step.
    for (const std::string& variant : s.method->eval_variants()) {
      s.method->select_eval_variant(variant);
      double objective = dvar_options.mode == StopMode::off ? std::nan("") : trainer.deterministic_objective();
      std::streamsize precision = ctx.log.precision(6);
      ctx.log << "[personalize] variant " << variant << ": DVAR objective " << objective << "\n";
      ctx.log.precision(precision);
      evaluator.run_point("final_" + variant, result.steps_trained, false, variant, objective);
    }
    s.method->select_eval_variant("");
    if (dvar_options.mode == StopMode::monitor && result.dvar_stop_step > 0 && eval.at_dvar_stop) {
      s.method->load_delta(result.delta_at_dvar_stop);  // the weights the stop rule would have kept
      evaluator.run_point("dvar_stop", result.dvar_stop_step, false);
    }
    if (clip_monitor && clip_config.mode == StopMode::monitor && clip_monitor->stop_step() > 0 && clip_config.at_stop) {
      s.method->load_delta(clip_monitor->delta_at_stop());  // the weights CLIP early stopping would have kept
      evaluator.run_point("clip_stop", clip_monitor->stop_step(), false);
    }
  }
  ctx.log << "[personalize] trained " << result.steps_trained << " steps in " << result.seconds << " s; final loss "
          << result.last_loss << "; DVAR stop step " << result.dvar_stop_step << "; CLIP stop step "
          << (clip_monitor ? clip_monitor->stop_step() : -1) << "\n";
}

}  // namespace

void register_personalize_workload(Registry<Workload>& registry) {
  registry.add(EntryInfo{kDefaultWorkload, "train a method on one subject with DVAR, then evaluate it (the engine)",
                         personalize::engine_defaults()},
               Workload{run_personalize, personalize::check_config, personalize::with_method_budget,
                        cfg::option_docs<personalize::PersonalizeOptions>()});
}

}  // namespace pbench
