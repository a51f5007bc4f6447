#pragma once
// Exact parameter counts of a full architecture from its config alone. The
// module tree is built on the `meta` device (shapes, no memory), so a
// 150M-parameter CLIP costs nothing; the counts are those of the very modules
// that run, not a separate formula that could drift from them.
#include <cstdint>
#include <filesystem>
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

// `path`: a config.json or a folder holding one. InputError for configs that
// are not CLIP / ViT (diffusers configs: "not supported yet", naming _class_name).
ParamCount count_params_from_config(const std::filesystem::path& path);

// Top-level module -> parameter count (first component of each parameter key).
std::vector<ParamGroup> params_by_top_level_module(const torch::nn::Module& module);

std::string param_count_json(const ParamCount& count);
std::string param_count_table(const ParamCount& count);

}  // namespace pbench::models
