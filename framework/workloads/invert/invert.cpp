// The `invert` workload (invert.hpp):
//   load the pipeline -> the input image (a file, or a dataset subject's image) at the model's
//   resolution -> its latent (VAE posterior mean) -> DDIM inversion (guidance 1, the prompt
//   alone), and for null_text the per-step optimization of the null embedding -> DDIM
//   reconstruction at invert.guidance -> decode -> score against the input (psnr, ssim).
//   edict: the coupled pair inverted and regenerated exactly (framework/sample/edict.hpp).
// Run file additions (docs/run_file_schema.md, "Inversion"): /inversion (attrs and per-step
// state), /samples/source, /samples/reconstruction, /metrics/reconstruction.
#include "framework/workloads/invert/invert.hpp"

#include <ostream>

#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/edict.hpp"
#include "framework/sample/null_text_inversion.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/invert/config.hpp"
#include "framework/workloads/invert/source_image.hpp"

namespace pbench {
namespace {

using namespace invert;

void run_invert(RunContext& ctx) {
  const InvertOptions o = read_options(ctx.config);
  const InvertSection& inv = o.invert;
  models::Pipeline pipeline = models::load_pipeline(o.model.spec(), pipeline_tensor_options(o.device, o.dtype, ctx.config));
  std::optional<SubjectData> subject;
  if (!inv.image) subject = load_config_subject(ctx.config, int(pipeline.resolution));
  const SourceImage src = load_source_image(ctx.config, "invert", inv.image, inv.image_index, inv.prompt,
                                            int(pipeline.resolution), subject ? &*subject : nullptr);
  const torch::Tensor source = images_u8({src.image});  // [1, H, W, 3]
  ctx.log << "[invert] " << cfg::enum_name(inv.method) << " inversion of " << src.description << " with \""
          << src.prompt << "\", " << inv.steps << " steps, reconstruction at guidance " << inv.guidance << "\n";

  torch::Tensor cond, uncond;
  {
    torch::NoGradGuard no_grad;
    cond = models::encode_prompts(pipeline, {src.prompt});
    uncond = models::encode_prompts(pipeline, {""});
  }
  const torch::Tensor z0 = sample::image_latent(pipeline, source[0]);
  std::vector<torch::Tensor> trajectory, null_embeddings;
  std::vector<sample::NullTextStep> null_steps;
  torch::Tensor z_rec;
  if (inv.method == InversionMethod::edict) {
    sample::EdictOptions eo;
    eo.num_steps = inv.steps;
    eo.guidance = inv.guidance;
    eo.mix = inv.edict.mix;
    eo.leapfrog = inv.edict.leapfrog;
    sample::EdictPair inverted = sample::edict_invert(pipeline, z0, cond, uncond, eo, progress_log(ctx.log, "invert", "inversion step"));
    trajectory = {inverted.x, inverted.y};  // the inverted pair (x_N, y_N)
    z_rec = sample::edict_generate(pipeline, inverted, cond, uncond, eo, progress_log(ctx.log, "invert", "reconstruction step")).x;
  } else if (inv.method == InversionMethod::ddim) {
    trajectory = sample::ddim_invert(pipeline, z0, cond, inv.steps, progress_log(ctx.log, "invert", "inversion step"));
    null_embeddings = {uncond};
  } else {
    const sample::NullTextOptions nt = inv.null_text.with(inv.steps, inv.guidance);
    auto report = progress_log(ctx.log, "invert", "null-text step");
    sample::NullTextResult r = sample::null_text_invert(pipeline, z0, cond, uncond, nt,
                                                        [&](int64_t i, const sample::NullTextStep&) {
                                                          report(i + 1, inv.steps);
                                                        });
    trajectory = std::move(r.pivots);
    null_embeddings = std::move(r.null_embeddings);
    null_steps = std::move(r.steps);
  }
  if (inv.method != InversionMethod::edict)
    z_rec = sample::ddim_denoise(pipeline, trajectory.back(), cond, null_embeddings, inv.guidance, inv.steps,
                                 progress_log(ctx.log, "invert", "reconstruction step"));
  const torch::Tensor reconstruction = sample::decode_latents_u8(pipeline, z_rec);
  const double latent_mse = (z_rec.to(torch::kFloat64) - z0.to(torch::kFloat64)).pow(2).mean().item<double>();

  InversionRecord record{cfg::enum_name(inv.method), src.prompt, src.description, inv.steps, inv.guidance, latent_mse,
                         trajectory, {}, null_steps};
  if (inv.method == InversionMethod::null_text) record.null_embeddings = null_embeddings;
  write_inversion(ctx.file, pipeline, record);
  write_image_sample(ctx.file, "source", source, src.prompt);
  write_image_sample(ctx.file, "reconstruction", reconstruction, src.prompt);
  score_against_source(ctx, "reconstruction", reconstruction, {src.prompt}, source, inv.metrics, {}, "invert");
  ctx.log << "[invert]   latent MSE = " << latent_mse << "\n";
  ctx.file.flush();
}

}  // namespace

void register_invert_workload(Registry<Workload>& registry) {
  registry.add(EntryInfo{"invert", "invert a real image into the model (ddim, null_text, edict) and score its reconstruction",
                         invert::invert_defaults()},
               Workload{run_invert, invert::check_config, nullptr, cfg::option_docs<InvertOptions>()});
}

}  // namespace pbench
