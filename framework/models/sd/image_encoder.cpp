#include "framework/models/sd/image_encoder.hpp"

#include "framework/models/deterministic_init.hpp"
#include "framework/models/hf/hf_config.hpp"
#include "framework/models/hf/hf_folder.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::models {

namespace fs = std::filesystem;

namespace {

const char* const kImageEncoderLayout =
    "\"pipeline\" (the pipeline folder's image_encoder/: config.json of a CLIPVisionModelWithProjection and "
    "model.safetensors, as diffusers' IP-Adapter pipelines hold it), builtin:mini-clip, builtin:tiny-clip, or a "
    "folder with a CLIPModel or CLIPVisionModelWithProjection (config.json, model.safetensors). For SD v1.x that is "
    "openai/clip-vit-large-patch14 (768-d, the width of SD v1.x's text states): download it with huggingface-cli "
    "on a machine with internet and pass its folder";

ImageEncoder from_folder(const fs::path& folder, const std::string& spec) {
  if (!fs::is_regular_file(folder / "config.json") || !fs::is_regular_file(folder / "model.safetensors"))
    throw InputError(spec + ": no image encoder at " + folder.string() + " (config.json and model.safetensors); expected " +
                     kImageEncoderLayout);
  ImageEncoder e;
  e.source = folder.string();
  e.vision = load_clip_vision_folder(folder);
  if (fs::is_regular_file(folder / "preprocessor_config.json"))
    e.preprocess = read_clip_image_processor(folder / "preprocessor_config.json");
  return e;
}

}  // namespace

torch::Tensor ImageEncoder::encode(const torch::Tensor& pixels, bool normalize) const {
  torch::NoGradGuard no_grad;
  const int64_t size = vision->config.image_size;
  torch::Tensor x = pixels.to(torch::kFloat32);
  if (x.size(-1) != size || x.size(-2) != size)
    x = torch::nn::functional::interpolate(
        x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{size, size})
               .mode(torch::kBilinear).align_corners(false));
  if (normalize) {
    const auto channel = [](const std::array<double, 3>& v) {
      return torch::tensor({v[0], v[1], v[2]}, torch::kFloat32).view({1, 3, 1, 1});
    };
    x = ((x + 1.0) / 2.0 - channel(preprocess.mean)) / channel(preprocess.std);
  }
  return vision->forward(x).image_embeds;
}

ImageEncoder load_image_encoder(const std::string& spec, const Pipeline& pipeline) {
  ImageEncoder e;
  if (spec == kPipelineImageEncoder && pipeline.source == kBuiltinTiny) {
    // Random weights like the rest of builtin:tiny; the config is shipped beside its others.
    const fs::path config = asset_path("builtin_tiny") / "image_encoder" / "config.json";
    e.source = std::string(kBuiltinTiny) + "/image_encoder";
    e.vision = ClipVisionModel(clip_vision_config_of(read_json_section(config)));
    deterministic_init(*e.vision, derive_seed(0, "builtin:tiny/image_encoder"), "builtin:tiny image_encoder");
  } else if (spec == kPipelineImageEncoder) {
    e = from_folder(pipeline.config_folder / "image_encoder", spec + " (" + pipeline.source + ")");
  } else if (spec == kBuiltinMiniClip || spec == kBuiltinTinyClip) {
    const ClipBackbone clip = load_clip_backbone(spec);
    e.source = spec;
    e.vision = clip.vision;
    e.preprocess = clip.preprocess;
  } else if (spec.rfind("builtin:", 0) == 0) {
    throw InputError(spec + ": unknown builtin image encoder; expected " + kImageEncoderLayout);
  } else {
    e = from_folder(fs::path(spec), spec);
  }
  if (!e.vision->visual_projection)
    throw InputError(e.source + ": the image encoder has no visual_projection (a CLIPVisionModel without projection); "
                     "expected " + kImageEncoderLayout);
  e.vision->eval();
  for (auto& p : e.vision->parameters()) p.set_requires_grad(false);
  return e;
}

}  // namespace pbench::models
