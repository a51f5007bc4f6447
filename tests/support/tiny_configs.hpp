#pragma once
// The small model configs the tests and the benchmarks share, each written once:
// the tiny UNet of ../shared/refvectors/unet (benchmark workload W1) and SD v1.5's
// scheduler config. Header-only: benchmarks include it without linking test code.
#include <nlohmann/json.hpp>

#include "framework/models/schedulers/scheduler_config.hpp"

namespace pbench::fixtures {

// UNet2DConditionModel (32, 64), one layer a block, cross-attention dim 32: the
// architecture of the refvectors/unet parity cases (latents 4 x 8 x 8 and up).
inline nlohmann::json tiny_unet_json() {
  return nlohmann::json{{"block_out_channels", {32, 64}},
                        {"layers_per_block", 1},
                        {"down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}},
                        {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D"}},
                        {"cross_attention_dim", 32},
                        {"attention_head_dim", 8},
                        {"norm_num_groups", 16}};
}

// diffusers' SD v1.5 scheduler_config.json (PNDM there; DDIM and DDPM read the same keys).
inline sched::SchedulerConfig sd15_scheduler_config() {
  sched::SchedulerConfig c;
  c.beta_start = 0.00085;
  c.beta_end = 0.012;
  c.beta_schedule = "scaled_linear";
  c.clip_sample = false;
  c.set_alpha_to_one = false;
  c.steps_offset = 1;
  return c;
}

}  // namespace pbench::fixtures
