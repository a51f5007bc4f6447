#pragma once
// The invert workload's config, typed (framework/config/options.hpp): which
// pipeline, which image (a file, or a dataset subject's image), which
// inversion technique and its settings, and the metrics of the reconstruction.
#include <optional>
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/sample/null_text_inversion.hpp"
#include "framework/workloads/pipeline_options.hpp"

namespace pbench::invert {

enum class InversionMethod { ddim, null_text, edict };
inline const cfg::EnumNames<InversionMethod>& enum_names(InversionMethod) {
  static const cfg::EnumNames<InversionMethod> names{{InversionMethod::ddim, "ddim"},
                                                     {InversionMethod::null_text, "null_text"},
                                                     {InversionMethod::edict, "edict"}};
  return names;
}

// NULL-text inversion's optimization (arXiv 2211.09794; defaults of the official code).
struct NullTextSection {
  int64_t inner_steps = 10;
  double lr = 1e-2;
  double early_stop = 1e-5;
  double early_stop_growth = 2e-5;
  // The optimization's settings for N steps at `guidance`.
  sample::NullTextOptions with(int64_t steps, double guidance) const {
    sample::NullTextOptions o;
    o.num_steps = steps;
    o.guidance = guidance;
    o.inner_steps = inner_steps;
    o.lr = lr;
    o.early_stop = early_stop;
    o.early_stop_growth = early_stop_growth;
    return o;
  }
  template <class V>
  void fields(V& v) {
    v("inner_steps", inner_steps, "Adam steps per sampling step, at most", cfg::at_least(1));
    v("lr", lr, "Adam's lr at step 0; step i uses lr*(1 - i/100)", cfg::greater_than(0));
    v("early_stop", early_stop, "step i stops once the loss < early_stop + i*early_stop_growth", cfg::at_least(0));
    v("early_stop_growth", early_stop_growth, "the threshold's growth per step", cfg::at_least(0));
  }
};

// `a` without its lower bound itself: (lo, hi].
inline cfg::Allowed open_below(cfg::Allowed a) {
  a.min_open = true;
  return a;
}

// EDICT's coupled transformations (arXiv 2211.12446; defaults of salesforce/EDICT).
struct EdictSection {
  double mix = 0.93;
  bool leapfrog = true;
  template <class V>
  void fields(V& v) {
    v("mix", mix, "the mixing weight p of the coupled latents",
      cfg::described(open_below(cfg::between(0, 1)), "a number in (0, 1] (un-mixing divides by it)"));
    v("leapfrog", leapfrog, "alternate which latent of the pair steps first");
  }
};

struct InvertSection {
  InversionMethod method = InversionMethod::ddim;
  std::optional<std::string> image;  // an image file; null: image `image_index` of the dataset's subject
  int64_t image_index = 0;
  std::optional<std::string> prompt;  // null: the subject's class prompt ("a dog"), or "" for an image file
  int64_t steps = 50;
  double guidance = 7.5;
  NullTextSection null_text;
  EdictSection edict;
  std::vector<std::string> metrics{"psnr", "ssim"};
  template <class V>
  void fields(V& v) {
    v("method", method, "ddim (DDIM inversion), null_text (NULL-text inversion, arXiv 2211.09794) or edict (arXiv 2211.12446)");
    v("image", image, "an image file (center-cropped, resized to the model); null = the dataset subject's image");
    v("image_index", image_index, "which of the subject's images (sorted by file name) when image is null",
      cfg::at_least(0));
    v("prompt", prompt, "the prompt inverted with; null = the subject's class prompt, or \"\" for an image file");
    v("steps", steps, "DDIM steps of inversion and reconstruction", cfg::at_least(1));
    v("guidance", guidance, "classifier-free guidance of the reconstruction (and of null_text's optimization, and of edict's inversion)",
      cfg::at_least(1));
    v("null_text", null_text, "null_text's optimization");
    v("edict", edict, "edict's coupled transformations");
    v("metrics", metrics, "registered metrics of the reconstruction against the input (psnr, ssim)");
  }
};

struct InvertOptions {
  ModelOptions model;
  InvertSection invert;
  Device device = Device::cpu;
  Dtype dtype = Dtype::fp32;
  template <class V>
  void fields(V& v) {
    v("model", model, "the pipeline to invert into");
    v("invert", invert, "the image and the inversion technique");
    v("device", device, "where the run computes");
    v("dtype", dtype, "the pipeline's weights and activations");
  }
};

// The sections of a resolved run config, read and checked (InputError at file:line and key).
InvertOptions read_options(const cfg::Node& resolved);
// Every section's defaults, as a config (the workload's registered schema).
const cfg::Node& invert_defaults();
// Workload::check: what a run would reject, before loading weights or images.
void check_config(const cfg::Node& resolved);

}  // namespace pbench::invert
