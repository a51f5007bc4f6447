#include "framework/models/hf/hf_folder.hpp"

#include "framework/util/errors.hpp"

namespace pbench::models {

LoadOptions clip_text_load_options() {
  LoadOptions o;
  o.allow_missing = {"^text_model\\.embeddings\\.position_ids$"};
  o.ignore_unexpected = {"^vision_model\\.", "^visual_projection\\.", "^logit_scale$"};
  return o;
}

LoadOptions clip_vision_load_options() {
  LoadOptions o;
  o.allow_missing = {"^vision_model\\.embeddings\\.position_ids$"};
  o.ignore_unexpected = {"^text_model\\.", "^text_projection\\.", "^logit_scale$"};
  return o;
}

LoadOptions dino_vit_load_options() {
  LoadOptions o;
  o.ignore_unexpected = {"^pooler\\."};
  return o;
}

std::filesystem::path weights_file_of(const std::filesystem::path& folder, const std::string& weights_file) {
  std::filesystem::path file = folder / weights_file;
  if (!std::filesystem::exists(file))
    throw InputError(file.string() + ": missing; expected the model weights (" + weights_file + ") in " + folder.string());
  return file;
}

namespace {

template <typename Model>
Model load_weights(Model model, const std::filesystem::path& folder, const std::string& weights_file,
                   const LoadOptions& options) {
  std::filesystem::path file = weights_file_of(folder, weights_file);
  load_into_module(*model, load_safetensors(file), file.string(), options);
  model->eval();
  return model;
}

}  // namespace

ClipTextModel load_clip_text_folder(const std::filesystem::path& folder, const std::string& weights_file) {
  ClipTextConfig c = clip_text_config_of(read_json_section(config_file_of(folder)));
  LoadOptions options = clip_text_load_options();
  // A CLIPTextModel ignores a stored projection (README of refvectors/clip_text).
  if (!c.with_projection) options.ignore_unexpected.push_back("^text_projection\\.");
  return load_weights(ClipTextModel(c), folder, weights_file, options);
}

ClipVisionModel load_clip_vision_folder(const std::filesystem::path& folder, const std::string& weights_file) {
  ClipVisionConfig c = clip_vision_config_of(read_json_section(config_file_of(folder)));
  LoadOptions options = clip_vision_load_options();
  if (!c.with_projection) options.ignore_unexpected.push_back("^visual_projection\\.");
  return load_weights(ClipVisionModel(c), folder, weights_file, options);
}

DinoVitModel load_dino_vit_folder(const std::filesystem::path& folder, const std::string& weights_file) {
  JsonSection root = read_json_section(config_file_of(folder));
  if (detect_model_kind(root) != HfModelKind::kVit) root.fail("model_type", "expected a ViT config (vit)");
  return load_dino_vit_folder(folder, parse_vit_config(root), weights_file);
}

DinoVitModel load_dino_vit_folder(const std::filesystem::path& folder, const VitConfig& config,
                                  const std::string& weights_file) {
  return load_weights(DinoVitModel(config), folder, weights_file, dino_vit_load_options());
}

}  // namespace pbench::models
