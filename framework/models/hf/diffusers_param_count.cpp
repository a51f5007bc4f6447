// `pbench params` for diffusers configs (UNet2DConditionModel, AutoencoderKL,
// detected by `_class_name`) and whole pipeline folders (model_index.json):
// the modules are built on the meta device, so the counts are those of the
// very modules that run, at no memory cost.
#include "framework/models/hf/param_count.hpp"

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/hf/hf_config.hpp"
#include "framework/models/sd/unet.hpp"
#include "framework/models/sd/vae.hpp"
#include "framework/util/errors.hpp"

namespace pbench::models {

namespace fs = std::filesystem;

namespace {

const torch::TensorOptions kMeta = torch::TensorOptions().device(torch::kMeta).dtype(torch::kFloat32);

int64_t total_of(const std::vector<ParamGroup>& groups) {
  int64_t n = 0;
  for (const auto& g : groups) n += g.params;
  return n;
}

// One component: its top-level modules, prefixed with the component name when
// the count is part of a pipeline.
ParamGroup add_component(ParamCount& out, const std::string& name, const torch::nn::Module& module,
                         const std::string& prefix) {
  auto modules = params_by_top_level_module(module);
  for (auto& m : modules) out.modules.push_back({prefix + m.name, m.params});
  ParamGroup g{name, total_of(modules)};
  out.components.push_back(g);
  return g;
}

void count_unet(ParamCount& out, const fs::path& file, const std::string& prefix) {
  UNet2DCondition unet(UNetConfig::from_file(file.string()), kMeta);
  add_component(out, "unet", *unet, prefix);
}

void count_vae(ParamCount& out, const fs::path& file, const std::string& prefix) {
  AutoencoderKL vae(VaeConfig::from_file(file.string()), kMeta);
  add_component(out, "vae", *vae, prefix);
}

void count_text_encoder(ParamCount& out, const fs::path& file, const std::string& prefix) {
  ClipTextModel text(clip_text_config_of(read_json_section(file)), kMeta);
  add_component(out, "text_encoder", *text, prefix);
}

}  // namespace

std::optional<ParamCount> count_diffusers_params(const fs::path& path) {
  ParamCount out;
  if (fs::is_directory(path) && fs::exists(path / "model_index.json")) {
    out.config_file = (path / "model_index.json").string();
    out.architecture = "StableDiffusionPipeline";
    for (const char* part : {"unet/config.json", "vae/config.json", "text_encoder/config.json"})
      if (!fs::is_regular_file(path / part))
        throw InputError((path / part).string() + ": missing; a pipeline folder holds unet/, vae/ and text_encoder/ "
                         "configs next to model_index.json");
    count_unet(out, path / "unet" / "config.json", "unet.");
    count_vae(out, path / "vae" / "config.json", "vae.");
    count_text_encoder(out, path / "text_encoder" / "config.json", "text_encoder.");
    out.total = total_of(out.components);
    return out;
  }
  fs::path file = config_file_of(path);
  JsonSection root = read_json_section(file);
  if (!root.has("_class_name")) return std::nullopt;
  out.config_file = file.string();
  const std::string cls = root.get_string("_class_name", "");
  out.architecture = cls;
  if (cls == "UNet2DConditionModel") {
    count_unet(out, file, "");
  } else if (cls == "AutoencoderKL") {
    count_vae(out, file, "");
  } else {
    root.fail("_class_name", "UNet2DConditionModel or AutoencoderKL (diffusers configs pbench counts), got '" + cls + "'");
  }
  out.total = total_of(out.components);
  return out;
}

}  // namespace pbench::models
