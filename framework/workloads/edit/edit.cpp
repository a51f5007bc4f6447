// The `edit` workload (edit.hpp):
//   load the pipeline -> the source image and its prompt -> (editor model_guidance: SINE,
//   model_guided_edit below) -> the initial latent and per-step
//   unconditional contexts: NULL-text inversion (the paper's way for real images), DDIM
//   inversion, or none (noise of the run's seed: a generated image) -> Prompt-to-Prompt over
//   [source, edit] (framework/sample/prompt_to_prompt.hpp) -> decode both branches -> score.
// Run file additions (docs/run_file_schema.md, "Edit run files"): /edit attrs, /inversion,
// /samples/{source,reconstruction,edit}, /metrics/{edit,reconstruction}.
#include "framework/workloads/edit/edit.hpp"

#include <algorithm>
#include <initializer_list>
#include <ostream>

#include "framework/config/access.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/sample/model_guidance.hpp"
#include "framework/sample/null_text_inversion.hpp"
#include "framework/sample/prompt_to_prompt.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/edit/config.hpp"
#include "framework/workloads/invert/source_image.hpp"
#include "framework/workloads/section_checks.hpp"

namespace pbench {
namespace {

using namespace edit;

// `metrics` plus each of `extra` it lacks (the control's psnr/ssim, blending's background_psnr).
std::vector<std::string> with_metrics(std::vector<std::string> metrics, std::initializer_list<const char*> extra) {
  for (const char* m : extra)
    if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
  return metrics;
}

// Where the edit starts: z_N and the unconditional context of each step.
struct EditStart {
  torch::Tensor z_n;
  std::vector<torch::Tensor> uncond_per_step;
};

EditStart invert_source(RunContext& ctx, models::Pipeline& pipeline, const EditSection& e, const SourceImage& src,
                        const torch::Tensor& uncond) {
  const torch::Tensor cond = models::encode_prompts(pipeline, {src.prompt}).detach();
  const torch::Tensor z0 = sample::image_latent(pipeline, images_u8({src.image})[0]);
  InversionRecord record{cfg::enum_name(e.inversion), src.prompt, src.description, e.steps, e.guidance, 0.0, {}, {}, {}};
  EditStart start;
  if (e.inversion == EditInversion::null_text) {
    auto report = sample::StepCallback(progress_log(ctx.log, "edit", "null-text step"));
    sample::NullTextResult r = sample::null_text_invert(
        pipeline, z0, cond, uncond, e.null_text.with(e.steps, e.guidance),
        [&](int64_t i, const sample::NullTextStep&) { report(i + 1, e.steps); });
    start = {r.pivots.back(), r.null_embeddings};
    record.latents = r.pivots;
    record.null_embeddings = r.null_embeddings;
    record.null_steps = r.steps;
  } else {
    record.latents = sample::ddim_invert(pipeline, z0, cond, e.steps, progress_log(ctx.log, "edit", "inversion step"));
    start = {record.latents.back(), {uncond}};
  }
  record.latent_mse = std::nan("");  // the source branch's fidelity is /metrics/reconstruction
  write_inversion(ctx.file, pipeline, record);
  return start;
}

// Personalized editing: the config's method attached to the pipeline with the delta loaded, so
// the prompts may name the learned subject. Returns the method (it must outlive the edit) and
// rewrites the prompts as the method's evaluation does (Textual Inversion's placeholder, ...).
std::unique_ptr<Method> apply_delta(RunContext& ctx, models::Pipeline& pipeline, const std::string& delta,
                                    SubjectData& subject) {
  std::unique_ptr<Method> method = ctx.chosen_method().build();
  const std::filesystem::path cache = run_cache_dir(ctx.config);
  MethodTarget target{pipeline, &subject, method_init_generator(ctx.seed), cache};
  method->attach(target);
  method->load_delta(load_safetensors(delta));
  freeze_pipeline(pipeline);  // editing trains nothing
  ctx.log << "[edit] " << method->describe() << ", delta " << delta << "\n";
  return method;
}

// SINE's edit (editor: model_guidance): from the seed's noise, the frozen `pipeline` on the edit
// prompt guided by a second copy carrying the fine-tuned delta on the source prompt. The control
// (/samples/reconstruction) is the fine-tuned model alone on the source prompt from the same noise.
void model_guided_edit(RunContext& ctx, const EditOptions& o, models::Pipeline& pipeline, SubjectData& subject,
                       const SourceImage& src) {
  const EditSection& e = o.edit;
  models::Pipeline tuned = models::load_pipeline(o.model.spec(), pipeline_tensor_options(o.device, o.dtype, ctx.config));
  std::unique_ptr<Method> method = apply_delta(ctx, tuned, *e.delta, subject);
  const std::string source_prompt = method->eval_prompt(src.prompt, subject);
  ctx.log << "[edit] model guidance: frozen model on \"" << e.target << "\", fine-tuned on \"" << source_prompt
          << "\", beta " << e.model_guidance.beta << " for t in [" << e.model_guidance.t_min << ", "
          << e.model_guidance.t_max << "], " << e.steps << " steps, guidance " << e.guidance << "\n";
  torch::Tensor uncond, tuned_uncond, edit_context, source_context;
  {
    torch::NoGradGuard no_grad;
    uncond = models::encode_prompts(pipeline, {""});
    tuned_uncond = models::encode_prompts(tuned, {""});
    edit_context = models::encode_prompts(pipeline, {e.target});
    source_context = models::encode_prompts(tuned, {source_prompt});
  }
  const torch::Tensor z_t = sample::initial_latent(pipeline, sample::image_seed(ctx.seed, 0, 0));
  sample::ModelGuidanceOptions guidance;
  guidance.num_steps = e.steps;
  guidance.guidance = e.guidance;
  guidance.beta = e.model_guidance.beta;
  guidance.t_min = e.model_guidance.t_min;
  guidance.t_max = e.model_guidance.t_max;
  const torch::Tensor edit_latent = sample::model_guided_sample(pipeline, tuned, z_t, edit_context, source_context, uncond,
                                                                guidance, progress_log(ctx.log, "edit", "edit step"));
  // The control: plain guidance of the fine-tuned model (β = 1 on its own source prediction).
  sample::ModelGuidanceOptions alone = guidance;
  alone.beta = 1.0;
  const torch::Tensor control_latent = sample::model_guided_sample(
      tuned, tuned, z_t, source_context, source_context, tuned_uncond, alone, progress_log(ctx.log, "edit", "control step"));
  const torch::Tensor edited = sample::decode_latents_u8(pipeline, edit_latent);
  const torch::Tensor reconstruction = sample::decode_latents_u8(pipeline, control_latent);
  const torch::Tensor source = images_u8({src.image});
  {
    h5::Handle g = h5::ensure_group(ctx.file.root(), "edit");
    h5::set_attr(g.id(), "editor", cfg::enum_name(e.editor));
    h5::set_attr(g.id(), "source", src.prompt);
    h5::set_attr(g.id(), "delta", *e.delta);
    h5::set_attr(g.id(), "target", e.target);
    h5::set_attr(g.id(), "inversion", cfg::enum_name(e.inversion));
    h5::set_attr(g.id(), "steps", e.steps);
    h5::set_attr(g.id(), "guidance", e.guidance);
    h5::set_attr(g.id(), "beta", e.model_guidance.beta);
    h5::set_attr(g.id(), "t_min", e.model_guidance.t_min);
    h5::set_attr(g.id(), "t_max", e.model_guidance.t_max);
  }
  write_image_sample(ctx.file, "source", source, src.prompt);
  write_image_sample(ctx.file, "reconstruction", reconstruction, src.prompt);
  write_image_sample(ctx.file, "edit", edited, e.target);
  const SourceMetricBackbones backbones = load_metric_backbones(e.metrics, e.clip_backbone, e.dino_backbone);
  score_against_source(ctx, "edit", edited, {e.target}, source, e.metrics, backbones, "edit", {}, subject.unique_token);
  score_against_source(ctx, "reconstruction", reconstruction, {e.target}, source, with_metrics(e.metrics, {"psnr", "ssim"}),
                       backbones, "edit", {}, subject.unique_token);
  ctx.file.flush();
}

void run_edit(RunContext& ctx) {
  const EditOptions o = read_options(ctx.config);
  const EditSection& e = o.edit;
  models::Pipeline pipeline = models::load_pipeline(o.model.spec(), pipeline_tensor_options(o.device, o.dtype, ctx.config));
  const bool real = e.inversion != EditInversion::none;
  // The dataset's subject, loaded once: the source image and prompt when no file is given, and
  // the subject a delta was trained on (check_config requires the dataset for both).
  std::optional<SubjectData> subject;
  if (ctx.config.find("dataset") && (!e.image || e.delta))
    subject = load_config_subject(ctx.config, int(pipeline.resolution));
  std::optional<SourceImage> src;
  if (e.image || subject)
    src = load_source_image(ctx.config, "edit", e.image, e.image_index, e.source, int(pipeline.resolution),
                            subject ? &*subject : nullptr);
  if (e.editor == Editor::model_guidance) return model_guided_edit(ctx, o, pipeline, *subject, *src);
  const std::string source_text = src ? src->prompt : e.source.value_or("");
  std::string source_prompt = source_text, target_prompt = e.target;  // what the model reads
  std::unique_ptr<Method> method;
  if (e.delta) {
    method = apply_delta(ctx, pipeline, *e.delta, *subject);
    source_prompt = method->eval_prompt(source_prompt, *subject);
    target_prompt = method->eval_prompt(target_prompt, *subject);
  }
  ctx.log << "[edit] \"" << source_prompt << "\" -> \"" << target_prompt << "\" on "
          << (real ? src->description : "a generated image (seed " + std::to_string(ctx.seed) + ")") << ", "
          << cfg::enum_name(e.inversion) << " inversion, " << e.steps << " steps\n";

  torch::Tensor uncond;
  {
    torch::NoGradGuard no_grad;
    uncond = models::encode_prompts(pipeline, {""});
  }
  EditStart start;
  if (real) {
    SourceImage inverted = *src;
    inverted.prompt = source_prompt;  // the method's rewrite, when a delta is applied
    start = invert_source(ctx, pipeline, e, inverted, uncond);
  } else {
    // The image sample_images would draw for prompt 0, image 0 of this seed.
    start = {sample::initial_latent(pipeline, sample::image_seed(ctx.seed, 0, 0)), {uncond}};
  }
  sample::PromptToPromptOptions p2p;
  p2p.num_steps = e.steps;
  p2p.guidance = e.guidance;
  p2p.cross_replace = e.cross_replace;
  p2p.self_replace = e.self_replace;
  p2p.self_max_queries = e.self_max_queries;
  p2p.reweight = reweight_scales(e, ctx.config);
  p2p.refine = e.refine;
  p2p.blend_words = e.blend_words;
  p2p.blend_threshold = e.blend_threshold;
  p2p.blend_start = e.blend_start;
  sample::EditLatents latents = sample::prompt_to_prompt(pipeline, start.z_n, source_prompt, target_prompt,
                                                         start.uncond_per_step, p2p,
                                                         progress_log(ctx.log, "edit", "edit step"));
  const torch::Tensor reconstruction = sample::decode_latents_u8(pipeline, latents.source);
  const torch::Tensor edited = sample::decode_latents_u8(pipeline, latents.edit);
  const torch::Tensor source = real ? images_u8({src->image}) : reconstruction;

  {
    h5::Handle g = h5::ensure_group(ctx.file.root(), "edit");
    h5::set_attr(g.id(), "editor", cfg::enum_name(e.editor));
    h5::set_attr(g.id(), "source", source_text);
    h5::set_attr(g.id(), "delta", e.delta.value_or(""));
    h5::set_attr(g.id(), "target", e.target);
    h5::set_attr(g.id(), "inversion", cfg::enum_name(e.inversion));
    h5::set_attr(g.id(), "steps", e.steps);
    h5::set_attr(g.id(), "guidance", e.guidance);
    h5::set_attr(g.id(), "cross_replace", e.cross_replace);
    h5::set_attr(g.id(), "self_replace", e.self_replace);
    h5::set_attr(g.id(), "self_max_queries", latents.self_max_queries);
    std::string reweight;
    for (const auto& r : e.reweight) reweight += (reweight.empty() ? "" : " ") + r;
    h5::set_attr(g.id(), "reweight", reweight);
    h5::set_attr(g.id(), "mode", e.refine ? "refine" : "swap");
    std::string blend;
    for (const auto& w : e.blend_words) blend += (blend.empty() ? "" : " ") + w;
    h5::set_attr(g.id(), "blend_words", blend);
    if (latents.blend_mask.defined()) write_float_array(g.id(), "blend_mask", latents.blend_mask);
  }
  write_image_sample(ctx.file, "source", source, source_text);
  write_image_sample(ctx.file, "reconstruction", reconstruction, source_text);
  write_image_sample(ctx.file, "edit", edited, e.target);
  // Both branches scored alike: CLIP-T to the edit prompt, similarity to the source image; the
  // unedited branch is the edit's control (what CLIP-T to the target is without the edit).
  const SourceMetricBackbones backbones = load_metric_backbones(e.metrics, e.clip_backbone, e.dino_backbone);
  // With local blending, the mask at the image's size (nearest, as the latent's pixels map) lets
  // background_psnr score what the edit left outside it.
  torch::Tensor pixel_mask;
  std::vector<std::string> edit_metrics = e.metrics;
  if (latents.blend_mask.defined()) {
    pixel_mask = torch::upsample_nearest2d(latents.blend_mask.to(torch::kFloat32).cpu(), {source.size(1), source.size(2)})[0];
    edit_metrics = with_metrics(edit_metrics, {"background_psnr"});
  }
  // CLIP-T reads the edit prompt without the subject's rare token, as for personalize runs.
  const std::string token = e.delta ? subject->unique_token : "";
  score_against_source(ctx, "edit", edited, {e.target}, source, edit_metrics, backbones, "edit", pixel_mask, token);
  const std::vector<std::string> control_metrics = real ? with_metrics(e.metrics, {"psnr", "ssim"}) : e.metrics;
  score_against_source(ctx, "reconstruction", reconstruction, {e.target}, source, control_metrics, backbones, "edit", {},
                       token);
  ctx.file.flush();
}

}  // namespace

void register_edit_workload(Registry<Workload>& registry) {
  registry.add(EntryInfo{"edit", "edit an image with Prompt-to-Prompt (word swap, re-weighting) after NULL-text inversion, or with SINE's model-based guidance (editor: model_guidance)",
                         edit::edit_defaults()},
               Workload{run_edit, edit::check_config, nullptr, cfg::option_docs<EditOptions>()});
}

}  // namespace pbench
