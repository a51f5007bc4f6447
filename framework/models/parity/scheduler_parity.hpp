#pragma once
// `pbench parity schedulers <folder>`: the scheduler scenarios of a parity
// folder (scheduler_config.json + cases.safetensors) run on our DDPM, DDIM
// and DDIM-inverse schedulers.
#include "framework/models/parity/parity.hpp"

namespace pbench::parity {

Component schedulers_parity_component();

}  // namespace pbench::parity
