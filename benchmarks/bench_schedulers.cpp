// The scheduler side of sampling: a 50-step DDIM loop (SD v1.5 scheduler
// settings, eta 0) on latents [4,4,8,8] with a stand-in model output, so only
// the scheduler's small-tensor arithmetic and dispatch are measured. The
// whole W7.sample (tiny UNet + CFG) is the UNet benchmark's.
//  ddim.loop_50  set_timesteps(50) + 50 step() calls
#include "benchmarks/support/bench_support.hpp"
#include "framework/models/schedulers/schedulers.hpp"
#include "tests/support/tiny_configs.hpp"

namespace {

using pbench::bench::add;

using pbench::fixtures::sd15_scheduler_config;

void ddim_loop_50(benchmark::State& state, int work) {
  pbench::sched::DDIMScheduler scheduler(sd15_scheduler_config());
  torch::manual_seed(0);
  const torch::Tensor start = torch::randn({4, 4, 8, 8});
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) {
      scheduler.set_timesteps(50);
      torch::Tensor sample = start;
      const auto timesteps = scheduler.timesteps();
      for (int64_t i = 0; i < timesteps.size(0); ++i) {
        const torch::Tensor model_output = sample * 0.1;  // stands in for the UNet
        sample = scheduler.step(model_output, timesteps[i].item<int64_t>(), sample).prev_sample;
      }
      benchmark::DoNotOptimize(sample.data_ptr<float>());
    }
  }
}

void register_benchmarks() { add("ddim.loop_50", ddim_loop_50); }

}  // namespace

PBENCH_BENCHMARK_MAIN()
