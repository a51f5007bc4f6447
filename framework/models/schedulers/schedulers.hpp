#pragma once
// The schedulers, one a file as diffusers keeps them (diffusers v0.25.1 semantics):
//   scheduler_config.hpp  a scheduler_config.json
//   noise_schedule.hpp    betas, alphas_cumprod, q(x_t | x_0), inference timesteps
//   ddim.hpp              DDIMScheduler
//   ddpm.hpp              DDPMScheduler
//   ddim_inverse.hpp      DDIMInverseScheduler (x_t -> x_{t+k})
// Include the one a file uses; this header is for code that picks among them.
#include "framework/models/schedulers/ddim.hpp"
#include "framework/models/schedulers/ddim_inverse.hpp"
#include "framework/models/schedulers/ddpm.hpp"
