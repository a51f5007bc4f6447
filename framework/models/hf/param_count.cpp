#include "framework/models/hf/param_count.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"

namespace pbench::models {
namespace {

const torch::TensorOptions kMetaOptions = torch::TensorOptions().device(torch::kMeta).dtype(torch::kFloat32);

void append(std::vector<ParamGroup>& to, const std::vector<ParamGroup>& from) { to.insert(to.end(), from.begin(), from.end()); }

}  // namespace

std::vector<ParamGroup> params_by_top_level_module(const torch::nn::Module& module) {
  std::vector<ParamGroup> groups;
  for (const auto& item : module.named_parameters()) {
    std::string top = item.key().substr(0, item.key().find('.'));
    if (groups.empty() || groups.back().name != top) groups.push_back({top, 0});
    groups.back().params += item.value().numel();
  }
  return groups;
}

ParamCount count_params_from_config(const std::filesystem::path& path) {
  if (auto diffusers = count_diffusers_params(path)) return *diffusers;
  ParamCount out;
  std::filesystem::path file = config_file_of(path);
  out.config_file = file.string();
  JsonSection root = read_json_section(file);
  switch (detect_model_kind(root)) {
    case HfModelKind::kClipModel: {
      out.architecture = "CLIPModel";
      ClipTextModel text(clip_text_config_of(root), kMetaOptions);
      ClipVisionModel vision(clip_vision_config_of(root), kMetaOptions);
      out.components = {{"clip_text", count_parameters(*text)}, {"clip_vision", count_parameters(*vision)},
                        {"logit_scale", 1}};  // CLIPModel's learned temperature (a scalar)
      append(out.modules, params_by_top_level_module(*text));
      append(out.modules, params_by_top_level_module(*vision));
      out.modules.push_back({"logit_scale", 1});
      break;
    }
    case HfModelKind::kClipText: {
      ClipTextConfig c = parse_clip_text_config(root);
      out.architecture = c.with_projection ? "CLIPTextModelWithProjection" : "CLIPTextModel";
      ClipTextModel text(c, kMetaOptions);
      out.components = {{"clip_text", count_parameters(*text)}};
      out.modules = params_by_top_level_module(*text);
      break;
    }
    case HfModelKind::kClipVision: {
      ClipVisionConfig c = parse_clip_vision_config(root);
      out.architecture = c.with_projection ? "CLIPVisionModelWithProjection" : "CLIPVisionModel";
      ClipVisionModel vision(c, kMetaOptions);
      out.components = {{"clip_vision", count_parameters(*vision)}};
      out.modules = params_by_top_level_module(*vision);
      break;
    }
    case HfModelKind::kVit: {
      out.architecture = "ViTModel (no pooler, as DINO)";
      DinoVitModel vit(parse_vit_config(root), kMetaOptions);
      out.components = {{"dino_vit", count_parameters(*vit)}};
      out.modules = params_by_top_level_module(*vit);
      break;
    }
  }
  for (const auto& c : out.components) out.total += c.params;
  return out;
}

std::string param_count_json(const ParamCount& count) {
  nlohmann::json doc;
  doc["config"] = count.config_file;
  doc["architecture"] = count.architecture;
  doc["total"] = count.total;
  doc["components"] = nlohmann::json::array();
  for (const auto& c : count.components) doc["components"].push_back({{"name", c.name}, {"params", c.params}});
  doc["modules"] = nlohmann::json::array();
  for (const auto& m : count.modules) doc["modules"].push_back({{"name", m.name}, {"params", m.params}});
  return doc.dump(2);
}

std::string param_count_table(const ParamCount& count) {
  std::ostringstream os;
  os << count.architecture << " (" << count.config_file << ")\n";
  auto rows = [&](const char* title, const std::vector<ParamGroup>& groups) {
    os << title << "\n";
    for (const auto& g : groups) {
      std::string pad(g.name.size() < 28 ? 28 - g.name.size() : 1, ' ');
      os << "  " << g.name << pad << g.params << "\n";
    }
  };
  rows("components:", count.components);
  rows("top-level modules:", count.modules);
  os << "total" << std::string(25, ' ') << count.total << "\n";
  return os.str();
}

}  // namespace pbench::models
