#include "framework/models/sd/unet_structure.hpp"

#include <filesystem>

#include "framework/models/sd/pipeline.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"

namespace pbench::models {

UNet2DCondition unet_structure(const std::string& spec) {
  namespace fs = std::filesystem;
  const fs::path folder = spec == kBuiltinTiny   ? asset_path("builtin_tiny")
                          : spec == kBuiltinMini ? asset_path("builtin_mini")
                                                 : fs::path(spec);
  const fs::path config = folder / "unet" / "config.json";
  if (!fs::is_regular_file(config))
    throw InputError(config.string() + ": missing; expected builtin:mini, builtin:tiny or a diffusers pipeline folder (" +
                     spec + ")");
  return UNet2DCondition(UNetConfig::from_file(config.string()), torch::TensorOptions().device(torch::kMeta));
}

}  // namespace pbench::models
