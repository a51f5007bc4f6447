#include "framework/workloads/edit/config.hpp"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/prompt_to_prompt.hpp"
#include "framework/train/method.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/invert/source_image.hpp"
#include "framework/workloads/section_checks.hpp"

namespace pbench::edit {

EditOptions read_options(const cfg::Node& resolved) { return cfg::read_declared_options<EditOptions>(resolved); }

const cfg::Node& edit_defaults() {
  static const cfg::Node defaults = workload_defaults<EditOptions>("edit");
  return defaults;
}

std::vector<std::pair<std::string, double>> reweight_scales(const EditSection& edit, const cfg::Node& resolved) {
  std::vector<std::pair<std::string, double>> out;
  for (const std::string& entry : edit.reweight) {
    const size_t eq = entry.find('=');
    std::istringstream number(eq == std::string::npos ? "" : entry.substr(eq + 1));
    double scale = 0;
    if (eq == std::string::npos || eq == 0 || !(number >> scale) || !number.eof() || !std::isfinite(scale))
      throw InputError(where_is(resolved, "edit.reweight") + ": '" + entry +
                       "': expected word=scale with a finite number, e.g. fluffy=5");
    out.emplace_back(entry.substr(0, eq), scale);
  }
  return out;
}

void check_config(const cfg::Node& resolved) {
  const EditOptions options = read_options(resolved);
  check_dtype_on_device(options.device, options.dtype, resolved);
  const bool blends = !options.edit.blend_words.empty();
  if (blends && options.edit.blend_words.size() != 2)
    throw InputError(where_is(resolved, "edit.blend_words") + ": expected two words, one of the source and one of "
                     "the edit prompt (e.g. [cube, ball]), or [] for no local blending");
  std::vector<std::string> inputs{"generated", "prompts", "source"};
  if (blends) inputs.push_back("mask");
  check_metric_inputs(resolved, "edit.metrics", options.edit.metrics, inputs,
                      blends ? "edit" : "edit (without local blending, no mask)");
  models::check_pipeline_spec(options.model.spec());
  if (options.edit.target.empty())
    throw InputError(where_is(resolved, "edit.target") + ": the edit prompt is empty; set edit.target, e.g. "
                     "edit.target='a blue cube'");
  reweight_scales(options.edit, resolved);
  const EditSection& e = options.edit;
  const bool model_guided = e.editor == Editor::model_guidance;
  if (model_guided) {
    if (!e.delta)
      throw InputError(where_is(resolved, "edit.delta") + ": editor model_guidance needs the fine-tuned model: set "
                       "edit.delta to a `sine` run's results/<sweep>/runs/<id>.delta.safetensors, with its method "
                       "and dataset sections");
    if (e.inversion != EditInversion::none)
      throw InputError(where_is(resolved, "edit.inversion") + ": editor model_guidance samples from the seed's noise, "
                       "as SINE does; set edit.inversion=none");
    // The fine-tuned model learnt one image: the edit is scored against that one.
    const cfg::Node* method = resolved.find("method");
    const cfg::Node* trained = method ? method->find("image_index") : nullptr;
    if (!e.image && trained && trained->kind() == cfg::Node::Kind::Int && trained->as_int() != e.image_index)
      throw InputError(where_is(resolved, "edit.image_index") + ": " + std::to_string(e.image_index) +
                       ", but the fine-tuned model learnt image " + std::to_string(trained->as_int()) +
                       " (method.image_index); set edit.image_index=" + std::to_string(trained->as_int()));
    if (e.model_guidance.t_min > e.model_guidance.t_max)
      throw InputError(where_is(resolved, "edit.model_guidance.t_min") + ": " + std::to_string(e.model_guidance.t_min) +
                       " is above t_max (" + std::to_string(e.model_guidance.t_max) + ")");
  }
  if (!model_guided && !e.refine && e.source && sample::prompt_words(*e.source).size() != sample::prompt_words(e.target).size())
    throw InputError(where_is(resolved, "edit.target") + ": \"" + e.target + "\" and the source \"" + *e.source +
                     "\" differ in their number of words; word swap aligns them word by word (for added or removed "
                     "words set edit.refine=true)");
  if (e.delta) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*e.delta, ec))
      throw InputError(where_is(resolved, "edit.delta") + ": " + *e.delta + ": no such delta file (a personalize run "
                       "writes results/<sweep>/runs/<id>.delta.safetensors)");
    if (!resolved.find("method") || !resolved.find("dataset"))
      throw InputError(where_is(resolved, "edit.delta") + ": a delta needs the method and dataset sections it was "
                       "trained with (method: {name: lora, ...}, dataset: {name: ..., subject: ...})");
  }
  if (e.image && !e.source)
    throw InputError(where_is(resolved, "edit.source") + ": null for an image file; set it to the prompt that "
                     "describes the image, with the words the target swaps (\"a dog\" -> \"a cat\")");
  if (e.inversion != EditInversion::none || e.image || resolved.find("dataset")) {
    check_source_image(resolved, "edit", e.image);
  } else if (!e.source) {
    throw InputError(where_is(resolved, "edit.source") + ": null, with no image and no dataset to take a class "
                     "prompt from; set edit.source to the prompt the generated image is drawn from");
  }
}

}  // namespace pbench::edit
