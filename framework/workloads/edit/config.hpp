#pragma once
// The edit workload's config, typed (framework/config/options.hpp): the pipeline,
// the image (a file, or a dataset subject's image) and its source prompt, the
// edit prompt, how the image is inverted, Prompt-to-Prompt's controls, and the
// metrics of the edit.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/workloads/invert/config.hpp"
#include "framework/workloads/pipeline_options.hpp"

namespace pbench::edit {

// How the source image's initial latent and per-step unconditional contexts are made.
enum class EditInversion { null_text, ddim, none };
inline const cfg::EnumNames<EditInversion>& enum_names(EditInversion) {
  static const cfg::EnumNames<EditInversion> names{
      {EditInversion::null_text, "null_text"}, {EditInversion::ddim, "ddim"}, {EditInversion::none, "none"}};
  return names;
}

// What makes the edit: Prompt-to-Prompt on the source's inverted latent, or SINE's model-based
// guidance (arXiv 2212.04489): the frozen model on the edit prompt guided by a model fine-tuned on
// the image (edit.delta, a `sine` run's) on the source prompt (framework/sample/model_guidance.hpp).
enum class Editor { prompt_to_prompt, model_guidance };
inline const cfg::EnumNames<Editor>& enum_names(Editor) {
  static const cfg::EnumNames<Editor> names{{Editor::prompt_to_prompt, "prompt_to_prompt"},
                                            {Editor::model_guidance, "model_guidance"}};
  return names;
}

// SINE's guidance weights (its README: β 0.4 for t in [500, 1000]).
struct ModelGuidanceSection {
  double beta = 0.4;
  int64_t t_min = 500;
  int64_t t_max = 1000;
  template <class V>
  void fields(V& v) {
    v("beta", beta, "weight of the frozen model's edit prediction while the fine-tuned model guides (SINE's cond_beta: 0.4)",
      cfg::between(0, 1));
    v("t_min", t_min, "the fine-tuned model guides timesteps t_min <= t <= t_max (SINE: 500)", cfg::at_least(0));
    v("t_max", t_max, "the last timestep it guides (SINE: 1000, i.e. from the first step)", cfg::at_least(0));
  }
};

struct EditSection {
  std::optional<std::string> image;  // an image file; null: image `image_index` of the dataset's subject
  int64_t image_index = 0;
  std::optional<std::string> source;  // the image's prompt; null: the subject's class prompt, or "" for a file
  std::string target;                 // the edit prompt (required)
  Editor editor = Editor::prompt_to_prompt;
  ModelGuidanceSection model_guidance;
  EditInversion inversion = EditInversion::null_text;
  int64_t steps = 50;
  double guidance = 7.5;
  double cross_replace = 0.8;
  double self_replace = 0.4;
  int64_t self_max_queries = 0;
  std::vector<std::string> reweight;  // "word=scale" entries
  bool refine = false;
  std::vector<std::string> blend_words;  // [source word, edit word]: local blending; []: off
  double blend_threshold = 0.3;
  double blend_start = 0.2;
  std::optional<std::string> delta;  // a learned delta (<run>.delta.safetensors) applied before editing
  invert::NullTextSection null_text;
  std::vector<std::string> metrics{"clip_t", "clip_i_source", "dino_source"};
  std::string clip_backbone = "builtin:mini-clip";
  std::string dino_backbone = "builtin:mini-dino";
  template <class V>
  void fields(V& v) {
    v("image", image, "an image file (center-cropped, resized to the model); null = the dataset subject's image");
    v("image_index", image_index, "which of the subject's images (sorted by file name) when image is null",
      cfg::at_least(0));
    v("source", source, "the prompt describing the image; null = the subject's class prompt, or \"\" for a file");
    v("target", target, "the edit prompt: the source with words swapped (same word count), or with words added when refine");
    v("editor", editor,
      "prompt_to_prompt (P2P on the inverted image) or model_guidance (SINE: the frozen model on the target, guided "
      "by edit.delta's fine-tuned model on the source; samples from the seed's noise: inversion none)");
    v("model_guidance", model_guidance, "SINE's model-based guidance (editor: model_guidance)");
    v("inversion", inversion,
      "null_text (real images, as the paper), ddim, or none (edit a generated image: noise of the run's seed)");
    v("steps", steps, "DDIM steps", cfg::at_least(1));
    v("guidance", guidance, "classifier-free guidance", cfg::at_least(1));
    v("cross_replace", cross_replace, "fraction of the steps whose cross-attention maps come from the source",
      cfg::between(0, 1));
    v("self_replace", self_replace, "fraction of the steps whose self-attention maps come from the source",
      cfg::between(0, 1));
    v("self_max_queries", self_max_queries,
      "self-attention is injected at layers with at most this many positions; 0 = the lower half of the UNet's attention resolutions (256 on SD v1.5, 64 on builtin:mini)",
      cfg::at_least(0));
    v("reweight", reweight, "word=scale entries: scale a target word's cross-attention (e.g. [fluffy=5])");
    v("refine", refine, "refinement (words added or removed: tokens aligned globally) instead of word swap");
    v("blend_words", blend_words, "local blending: [a source word, an edit word], e.g. [cube, ball]; [] = off");
    v("blend_threshold", blend_threshold, "local blending's mask threshold on the normalized attention",
      cfg::between(0, 1));
    v("blend_start", blend_start, "local blending from this fraction of the steps on", cfg::between(0, 1));
    v("delta", delta, "personalized editing: a run's <id>.delta.safetensors, applied with the config's method and "
                      "dataset sections (as trained) so prompts may name the subject (\"a sks dog\"); null = none");
    v("null_text", null_text, "null_text inversion's optimization");
    v("metrics", metrics, "metrics of the edit: clip_t to the target prompt; clip_i_source, dino_source, psnr, ssim to the image");
    v("clip_backbone", clip_backbone, "the CLIP of clip_i / clip_t (a built-in or an HF folder)");
    v("dino_backbone", dino_backbone, "the DINO of dino (a built-in or an HF folder)");
  }
};

struct EditOptions {
  ModelOptions model;
  EditSection edit;
  Device device = Device::cpu;
  Dtype dtype = Dtype::fp32;
  template <class V>
  void fields(V& v) {
    v("model", model, "the pipeline that edits");
    v("edit", edit, "the image, the prompts and Prompt-to-Prompt's controls");
    v("device", device, "where the run computes");
    v("dtype", dtype, "the pipeline's weights and activations");
  }
};

EditOptions read_options(const cfg::Node& resolved);
const cfg::Node& edit_defaults();
// Workload::check: what a run would reject, before loading weights or images.
void check_config(const cfg::Node& resolved);
// edit.reweight's "word=scale" entries; InputError at the key for a malformed one.
std::vector<std::pair<std::string, double>> reweight_scales(const EditSection& edit, const cfg::Node& resolved);

}  // namespace pbench::edit
