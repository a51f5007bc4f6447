#pragma once
// `pbench parity unet <folder>` and `pbench parity vae <folder>`: a diffusers
// UNet2DConditionModel / AutoencoderKL folder (config.json + weights) loaded
// as a user's weights are loaded, run on every case of cases.safetensors.
#include "framework/models/parity/parity.hpp"

namespace pbench::parity {

Component unet_parity_component();
Component vae_parity_component();

}  // namespace pbench::parity
