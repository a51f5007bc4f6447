#include "framework/workloads/pretrain/pretrain_context.hpp"

#include <algorithm>
#include <cmath>

#include "framework/config/overrides.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/version.hpp"

namespace pbench::pretrain {

namespace fs = std::filesystem;

namespace {

std::string known_keys(const cfg::Node& defaults) {
  std::string out;
  for (const auto& k : defaults.keys()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Numbers become attributes, strings string attributes, objects groups.
void write_json_into(hid_t group, const nlohmann::json& value) {
  for (const auto& [key, item] : value.items()) {
    if (item.is_object()) {
      h5::Handle sub = h5::ensure_group(group, key);
      write_json_into(sub.id(), item);
    } else if (item.is_number_integer()) {
      h5::set_attr(group, key, int64_t(item.get<int64_t>()));
    } else if (item.is_number()) {
      h5::set_attr(group, key, item.get<double>());
    } else if (item.is_boolean()) {
      h5::set_attr(group, key, int64_t(item.get<bool>() ? 1 : 0));
    } else {
      h5::set_attr(group, key, item.is_string() ? item.get<std::string>() : item.dump());
    }
  }
}

}  // namespace

cfg::Node compose_recipe(const cfg::Node& defaults, const RecipeInput& input, const std::string& component) {
  cfg::Node node = defaults;
  if (input.file) {
    const cfg::Node file = cfg::load_yaml_file(*input.file, input.file->string());
    if (!file.is_null() && !file.is_map())
      throw InputError(input.file->string() + ": a recipe is a map of keys (" + known_keys(defaults) + "), got " +
                       file.describe_value());
    if (file.is_map()) {
      for (size_t i = 0; i < file.size(); ++i)
        if (!defaults.find(file.keys()[i]))
          throw InputError(file.values()[i].origin().describe() + ": " + file.keys()[i] +
                           ": not a key of the " + component + " recipe; keys: " + known_keys(defaults));
      cfg::merge_into(node, file);
    }
  }
  for (const std::string& text : input.overrides) {
    const cfg::Override o = cfg::parse_override(text, "command line");
    if (o.op != cfg::Override::Op::Set || o.values.size() != 1 || o.sweep)
      throw InputError("command line '" + text + "': a pretrain override is key=value with one value");
    if (!defaults.find(o.key))
      throw InputError("command line '" + text + "': " + o.key + " is not a key of the " + component +
                       " recipe; keys: " + known_keys(defaults));
    node.set(o.key, o.values.front());
  }
  return node;
}

std::string PretrainContext::recipe_yaml(const cfg::Node& node) { return cfg::to_yaml(node); }

StageSettings PretrainContext::settings(const std::string& stage, const StageRecipe& recipe) const {
  StageSettings s;
  s.name = stage;
  s.steps = recipe.steps;
  s.warmup_steps = std::min(recipe.warmup_steps, recipe.steps / 2);
  s.learning_rate = recipe.learning_rate;
  s.weight_decay = recipe.weight_decay;
  s.log_every = std::max<int64_t>(1, std::min<int64_t>(25, s.steps / 10));
  s.checkpoint_every = std::max<int64_t>(1, std::min<int64_t>(250, s.steps / 4));
  s.checkpoint_seconds = recipe.checkpoint_minutes * 60.0;
  s.checkpoint = checkpoint(stage);
  s.deadline = deadline;
  return s;
}

void write_stage_run_file(const PretrainContext& context, const std::string& stage, const std::string& recipe_yaml,
                          const StageProgress& progress, const nlohmann::json& evaluation) {
  const fs::path file = context.run_file(stage);
  fs::create_directories(file.parent_path());
  const fs::path partial = file.string() + ".partial";
  {
    h5::Handle f = h5::create_file(partial.string());
    h5::set_attr(f.id(), "schema", "pbench.pretrain");
    h5::set_attr(f.id(), "schema_version", int64_t(1));
    h5::set_attr(f.id(), "component", stage);
    h5::set_attr(f.id(), "status", progress.outcome == StageOutcome::kFinished ? "complete" : "partial");
    h5::set_attr(f.id(), "steps_done", progress.steps_done);
    h5::set_attr(f.id(), "steps_total", progress.steps_total);
    h5::set_attr(f.id(), "train_seconds", progress.train_seconds);
    h5::set_attr(f.id(), "torch_threads", int64_t(torch::get_num_threads()));
    h5::set_attr(f.id(), "pbench_version", pbench_version());
    h5::set_attr(f.id(), "git_commit", std::string(git_commit()));
    h5::write_string(f.id(), "recipe_yaml", recipe_yaml);
    h5::Handle curve = h5::ensure_group(f.id(), "curve");
    std::vector<int64_t> steps;
    std::vector<double> loss, lr, seconds;
    for (const CurvePoint& p : progress.curve) {
      steps.push_back(p.step);
      loss.push_back(p.loss);
      lr.push_back(p.learning_rate);
      seconds.push_back(p.elapsed_seconds);
    }
    const std::vector<hsize_t> dims{hsize_t(steps.size())};
    h5::write_array(curve.id(), "step", h5::Type::Int64, dims, steps.data());
    h5::write_array(curve.id(), "loss", h5::Type::Float64, dims, loss.data());
    h5::write_array(curve.id(), "learning_rate", h5::Type::Float64, dims, lr.data());
    h5::write_array(curve.id(), "elapsed_seconds", h5::Type::Float64, dims, seconds.data());
    h5::Handle eval = h5::ensure_group(f.id(), "eval");
    write_json_into(eval.id(), evaluation);
  }
  fs::rename(partial, file);
}

TensorMap half_state_dict(const torch::nn::Module& module) {
  TensorMap out = models::state_dict(module);
  for (auto& [name, tensor] : out)
    if (tensor.is_floating_point()) tensor = tensor.cpu().to(torch::kFloat16);
  return out;
}

}  // namespace pbench::pretrain
