#pragma once
// A pipeline's UNet with shapes only: what a command needs to know about the base model's layers
// (names, kernel shapes, the cross-attention order) without reading any weights. export-delta
// uses it to write conv LoRA factors as kohya's kernels and to name P+ rows after UNet blocks.
#include <string>

#include "framework/models/sd/unet.hpp"

namespace pbench::models {

// The UNet of `spec` (builtin:mini, builtin:tiny or a diffusers folder) built from its
// unet/config.json on the meta device. InputError naming the file when it is missing or wrong.
UNet2DCondition unet_structure(const std::string& spec);

}  // namespace pbench::models
