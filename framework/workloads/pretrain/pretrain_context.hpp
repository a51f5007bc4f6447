#pragma once
// What every component of `pbench pretrain` shares: where its model configs
// come from, where it writes, its recipe input, its wall-clock budget.
//
// Output layout (<out> = --out):
//   <out>/checkpoints/<component>.pt    resumable state (fp32 weights, optimizer moments, loss curve)
//   <out>/runs/<component>.h5           the run file: recipe, loss curve, final evaluation
//                                       (docs/run_file_schema.md, "Pretraining run files")
//   <out>/builtin_mini/...              the pipeline, diffusers layout, weights fp16 (vae, text encoder, unet)
//   <out>/builtin_mini_clip/...         the metric CLIP, Hugging Face layout, fp16
//   <out>/builtin_mini_dino/...         the metric DINO ViT, Hugging Face layout, fp16
//   <out>/pipeline_clip/...             the pipeline CLIP (both towers), for study
// Shipping = copying the builtin_* folders over framework/assets/ (docs/mini_world.md).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/tensor/safetensors_torch.hpp"
#include "framework/workloads/pretrain/recipes.hpp"
#include "framework/workloads/pretrain/stage_loop.hpp"

namespace pbench::pretrain {

// Where a component's recipe comes from: the struct's defaults, then a YAML
// file's keys, then `key=value` overrides (in that order).
struct RecipeInput {
  std::optional<std::filesystem::path> file;
  std::vector<std::string> overrides;
};

// The recipe as a config node (for the run file) with every key checked:
// InputError naming the file:line or the override and the known keys.
cfg::Node compose_recipe(const cfg::Node& defaults, const RecipeInput& input, const std::string& component);

struct PretrainContext {
  std::filesystem::path out;
  std::filesystem::path configs;  // builtin_mini/, builtin_mini_clip/, builtin_mini_dino/, mini_recipe/ (the assets)
  RecipeInput recipe;
  std::optional<std::chrono::steady_clock::time_point> deadline;

  std::filesystem::path checkpoint(const std::string& stage) const { return out / "checkpoints" / (stage + ".pt"); }
  std::filesystem::path run_file(const std::string& stage) const { return out / "runs" / (stage + ".h5"); }

  // The component's typed recipe and its resolved YAML (written into the run file).
  template <class Recipe>
  Recipe read_recipe(const std::string& component, std::string& resolved_yaml) const {
    const cfg::Node node = compose_recipe(cfg::options_node<Recipe>(), recipe, component);
    resolved_yaml = recipe_yaml(node);
    return cfg::read_options<Recipe>(node, component);
  }
  static std::string recipe_yaml(const cfg::Node& node);

  // The loop's settings from the recipe.
  StageSettings settings(const std::string& stage, const StageRecipe& recipe) const;
};

// Writes <out>/runs/<stage>.h5 (atomically): the recipe, the loss curve, the
// evaluation (numbers, strings, nested objects as groups) and how far it got.
void write_stage_run_file(const PretrainContext& context, const std::string& stage, const std::string& recipe_yaml,
                          const StageProgress& progress, const nlohmann::json& evaluation);

// models::state_dict with every floating tensor in fp16 (integer buffers
// unchanged): the shipped form. The evaluations load the written files, so
// what they measure is what ships.
TensorMap half_state_dict(const torch::nn::Module& module);

}  // namespace pbench::pretrain
