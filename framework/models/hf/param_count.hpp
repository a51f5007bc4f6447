#pragma once
// Exact parameter counts of a full architecture from its config alone. The
// module tree is built on the `meta` device (shapes, no memory), so a
// 150M-parameter CLIP costs nothing; the counts are those of the very modules
// that run, not a separate formula that could drift from them.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace pbench::models {

struct ParamGroup {
  std::string name;
  int64_t params = 0;
};

struct ParamCount {
  std::string config_file;
  std::string architecture;             // CLIPModel, CLIPTextModel, ..., ViTModel
  std::vector<ParamGroup> components;   // e.g. clip_text (tower + projection), clip_vision, logit_scale
  std::vector<ParamGroup> modules;      // top-level modules (text_model, text_projection, ...)
  int64_t total = 0;
};

// `path`: a config.json or a folder holding one: CLIP / ViT configs, diffusers
// UNet2DConditionModel / AutoencoderKL configs (by `_class_name`), or a
// pipeline folder (model_index.json: components unet, vae, text_encoder;
// modules named `<component>.<top-level module>`). InputError otherwise.
ParamCount count_params_from_config(const std::filesystem::path& path);

// The diffusers part of the above (diffusers_param_count.cpp): nullopt when
// `path` is neither a pipeline folder nor a config with a `_class_name`.
std::optional<ParamCount> count_diffusers_params(const std::filesystem::path& path);

// Top-level module -> parameter count (first component of each parameter key).
std::vector<ParamGroup> params_by_top_level_module(const torch::nn::Module& module);

std::string param_count_json(const ParamCount& count);
std::string param_count_table(const ParamCount& count);

}  // namespace pbench::models
