// The `invert` workload (invert.hpp):
//   load the pipeline -> the input image (a file, or a dataset subject's image) at the model's
//   resolution -> its latent (VAE posterior mean) -> DDIM inversion (guidance 1, the prompt
//   alone), and for null_text the per-step optimization of the null embedding -> DDIM
//   reconstruction at invert.guidance -> decode -> score against the input (psnr, ssim).
//   edict: the coupled pair inverted and regenerated exactly (framework/sample/edict.hpp).
// Run file additions (docs/run_file_schema.md, "Inversion"): /inversion (attrs and per-step
// state), /samples/source, /samples/reconstruction, /metrics/reconstruction.
#include "framework/workloads/invert/invert.hpp"

#include <chrono>
#include <ostream>

#include "datasets/dataset.hpp"
#include "framework/h5/h5.hpp"
#include "framework/io/image_cache.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/edict.hpp"
#include "framework/sample/null_text_inversion.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/duration.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/invert/config.hpp"
#include "framework/workloads/section_checks.hpp"
#include "metrics/metric.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

using namespace invert;

struct SourceImage {
  Image image;              // square, at the pipeline's resolution
  std::string description;  // the file, or "<dataset file or builtin id>"
  std::string prompt;       // what the image is inverted with
};

SourceImage load_source(const cfg::Node& config, const InvertOptions& o, int resolution) {
  SourceImage src;
  if (o.invert.image) {
    src.image = resize_image(center_crop_square(decode_image_file(*o.invert.image)), resolution, resolution);
    src.description = *o.invert.image;
    src.prompt = o.invert.prompt.value_or("");
    return src;
  }
  auto dataset = chosen_entry(config, "dataset", datasets());
  fs::path cache = fs::path(cfg::get_string(config, "runtime.cache_dir", default_cache_dir().string()));
  SubjectData subject = dataset.entry.factory.load(dataset.section, resolution, cache);
  if (o.invert.image_index >= int64_t(subject.images.size()))
    throw InputError(where_is(config, "invert.image_index") + ": " + std::to_string(o.invert.image_index) +
                     ", but subject '" + subject.subject + "' has " + std::to_string(subject.images.size()) +
                     " images (0-based)");
  src.image = subject.images[size_t(o.invert.image_index)];
  src.description = subject.image_files[size_t(o.invert.image_index)];
  src.prompt = o.invert.prompt.value_or(subject.class_prompt);
  return src;
}

// Logs "<what> i/N, ETA" about every tenth of the steps.
sample::StepCallback progress_log(std::ostream& log, const std::string& what) {
  auto start = std::chrono::steady_clock::now();
  return [&log, what, start](int64_t done, int64_t total) {
    if (done != total && done % std::max<int64_t>(1, total / 10) != 0) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log << "[invert] " << what << " " << done << "/" << total << ", elapsed " << format_duration(seconds)
        << (done < total ? ", ETA " + format_duration(seconds / double(done) * double(total - done)) : "") << "\n";
  };
}

void write_float_array(hid_t group, const std::string& name, const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<hsize_t> dims(c.sizes().begin(), c.sizes().end());
  h5::write_array(group, name, h5::Type::Float32, dims, c.data_ptr<float>());
}

void run_invert(RunContext& ctx) {
  const InvertOptions o = read_options(ctx.config);
  const InvertSection& inv = o.invert;
  models::Pipeline pipeline = models::load_pipeline(o.model.spec(), pipeline_tensor_options(o.device, o.dtype, ctx.config));
  const SourceImage src = load_source(ctx.config, o, int(pipeline.resolution));
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
    sample::EdictPair inverted = sample::edict_invert(pipeline, z0, cond, uncond, eo, progress_log(ctx.log, "inversion step"));
    trajectory = {inverted.x, inverted.y};  // the inverted pair (x_N, y_N)
    z_rec = sample::edict_generate(pipeline, inverted, cond, uncond, eo, progress_log(ctx.log, "reconstruction step")).x;
  } else if (inv.method == InversionMethod::ddim) {
    trajectory = sample::ddim_invert(pipeline, z0, cond, inv.steps, {}, 1.0, progress_log(ctx.log, "inversion step"));
    null_embeddings = {uncond};
  } else {
    sample::NullTextOptions nt;
    nt.num_steps = inv.steps;
    nt.guidance = inv.guidance;
    nt.inner_steps = inv.null_text.inner_steps;
    nt.lr = inv.null_text.lr;
    nt.early_stop = inv.null_text.early_stop;
    nt.early_stop_growth = inv.null_text.early_stop_growth;
    auto report = progress_log(ctx.log, "null-text step");
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
                                 progress_log(ctx.log, "reconstruction step"));
  const torch::Tensor reconstruction = sample::decode_latents_u8(pipeline, z_rec);
  const double latent_mse = (z_rec.to(torch::kFloat64) - z0.to(torch::kFloat64)).pow(2).mean().item<double>();

  {
    h5::Handle g = h5::ensure_group(ctx.file.root(), "inversion");
    h5::set_attr(g.id(), "method", cfg::enum_name(inv.method));
    h5::set_attr(g.id(), "steps", inv.steps);
    h5::set_attr(g.id(), "guidance", inv.guidance);
    h5::set_attr(g.id(), "prompt", src.prompt);
    h5::set_attr(g.id(), "image", src.description);
    h5::set_attr(g.id(), "first_alpha_cumprod",
                 pipeline.scheduler.set_alpha_to_one ? 1.0 : sched::NoiseSchedule(pipeline.scheduler).alphas_cumprod[0].item<double>());
    h5::set_attr(g.id(), "latent_mse", latent_mse);
    write_float_array(g.id(), "latents", torch::cat(trajectory));
    if (inv.method == InversionMethod::null_text) {
      write_float_array(g.id(), "null_embeddings", torch::cat(null_embeddings));
      std::vector<int64_t> inner;
      std::vector<double> loss;
      for (const auto& s : null_steps) {
        inner.push_back(s.inner_steps);
        loss.push_back(s.loss);
      }
      h5::write_array(g.id(), "inner_steps", h5::Type::Int64, {inner.size()}, inner.data());
      h5::write_array(g.id(), "loss", h5::Type::Float64, {loss.size()}, loss.data());
    }
  }
  auto bytes = [](const torch::Tensor& u8) {
    torch::Tensor c = u8.contiguous();
    return std::vector<uint8_t>(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
  };
  const int64_t side = source.size(1);
  ctx.file.set_samples("source", bytes(source), 1, side, side, {src.prompt}, {0});
  ctx.file.set_samples("reconstruction", bytes(reconstruction), 1, side, side, {src.prompt}, {0});

  metrics::MetricInputs inputs(reconstruction, {src.prompt}, source, "", {});
  inputs.set_source(source);
  MetricPoint point;
  for (const auto& name : inv.metrics) {
    metrics::MetricResult r = metrics::metrics_registry().get(name, "invert.metrics").factory.compute(inputs);
    torch::Tensor v = r.per_image.contiguous();
    point.scores.push_back(MetricScores{name, std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel())});
    ctx.log << "[invert]   " << name << " = " << r.mean << "\n";
  }
  ctx.file.set_metrics("reconstruction", point);
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
