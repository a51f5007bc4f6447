// UNet / VAE throughput (issue 4): W1 tiny UNet forward, W2 "small" UNet
// (SD v1.5 layout, block_out_channels [128, 256, 512, 512]) forward and
// forward+backward, W3 the SD v1.5 UNet forward and forward+backward, W8 the
// SD v1.5 VAE decode [1,4,32,32] -> [1,3,256,256], and the builtin:tiny UNet
// training step (forward+backward at batch 2, latent 16x16); beside an sgemm measured
// in the same process (machine speed drifts between processes, TRAPS.md).
//
// One process per thread count: bench_unet --threads=N [benchmark flags].
// Weights are random (speed does not depend on values). Achieved GFLOP/s uses
// the forward FLOPs counted once by LibTorch's profiler (conv2d, addmm, mm,
// bmm, mul, add); forward+backward is counted as 3x the forward FLOPs.
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>

#include "framework/models/pipeline.hpp"
#include "framework/models/unet.hpp"
#include "framework/models/vae.hpp"
#include "framework/util/thread_env.hpp"

using namespace pbench::models;
using nlohmann::json;

namespace {

int g_threads = 1;

json sd15_unet_json() {
  return json{{"block_out_channels", {320, 640, 1280, 1280}},
              {"layers_per_block", 2},
              {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 768},
              {"attention_head_dim", 8},
              {"norm_num_groups", 32}};
}

// The refvectors/unet architecture (tiny).
json tiny_unet_json() {
  return json{{"block_out_channels", {32, 64}},
              {"layers_per_block", 1},
              {"down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 32},
              {"attention_head_dim", 8},
              {"norm_num_groups", 16}};
}

double profiled_flops(const std::function<void()>& fn) {
  using namespace torch::autograd::profiler;
  torch::profiler::impl::ProfilerConfig cfg(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true,
                                            false, false, /*with_flops=*/true);
  enableProfilerLegacy(cfg);
  fn();
  double flops = 0;
  for (auto& list : disableProfilerLegacy())
    for (auto& e : list) flops += double(e.flops());
  return flops;
}

void report(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iter * 1e-9 * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  state.counters["GFLOP"] = flops_per_iter * 1e-9;
  state.counters["threads"] = g_threads;
}

void BM_sgemm(benchmark::State& state) {
  const int64_t n = 1024;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b));
  report(state, 2.0 * n * n * n);
}

struct UNetWorkload {
  UNet2DCondition unet{nullptr};
  torch::Tensor sample, timestep, context;
};

UNetWorkload make_unet(const json& config, std::vector<int64_t> sample, torch::Tensor timestep, std::vector<int64_t> context) {
  torch::manual_seed(0);
  UNetWorkload w;
  w.unet = UNet2DCondition(UNetConfig::from_json(config, "bench"));
  w.sample = torch::randn(sample);
  w.timestep = timestep;
  w.context = torch::randn(context);
  return w;
}

void run_unet(benchmark::State& state, UNetWorkload& w, bool backward) {
  auto step = [&] {
    if (backward) {
      w.unet->zero_grad();
      w.unet->forward(w.sample, w.timestep, w.context).square().mean().backward();
    } else {
      torch::NoGradGuard no_grad;
      benchmark::DoNotOptimize(w.unet->forward(w.sample, w.timestep, w.context));
    }
  };
  double fwd_flops;
  {
    torch::NoGradGuard no_grad;
    fwd_flops = profiled_flops([&] { w.unet->forward(w.sample, w.timestep, w.context); });
  }
  step();  // warm-up (allocations, grad buffers)
  for (auto _ : state) step();
  report(state, backward ? 3 * fwd_flops : fwd_flops);
}

json small_unet_json() {
  json j = sd15_unet_json();
  j["block_out_channels"] = {128, 256, 512, 512};
  return j;
}

void BM_W1_fwd(benchmark::State& state) {
  auto w = make_unet(tiny_unet_json(), {4, 4, 8, 8}, torch::tensor({187, 582, 840, 431}), {4, 77, 32});
  run_unet(state, w, false);
}
void BM_W2_fwd(benchmark::State& state) {
  auto w = make_unet(small_unet_json(), {1, 4, 32, 32}, torch::tensor(684), {1, 77, 768});
  run_unet(state, w, false);
}
void BM_W2_fwdbwd(benchmark::State& state) {
  auto w = make_unet(small_unet_json(), {1, 4, 32, 32}, torch::tensor(684), {1, 77, 768});
  run_unet(state, w, true);
}
void BM_W3_fwd(benchmark::State& state) {
  auto w = make_unet(sd15_unet_json(), {1, 4, 32, 32}, torch::tensor(684), {1, 77, 768});
  run_unet(state, w, false);
}
void BM_W3_fwdbwd(benchmark::State& state) {
  auto w = make_unet(sd15_unet_json(), {1, 4, 32, 32}, torch::tensor(684), {1, 77, 768});
  run_unet(state, w, true);
}
// One training step's UNet work for builtin:tiny: batch 2, latent 4x16x16, context [2, 77, 64].
void BM_tiny_fwdbwd(benchmark::State& state) {
  torch::manual_seed(0);
  UNetWorkload w;
  w.unet = load_pipeline("builtin:tiny").unet;
  w.unet->train();
  w.sample = torch::randn({2, 4, 16, 16});
  w.timestep = torch::tensor({187, 840});
  w.context = torch::randn({2, 77, 64});
  run_unet(state, w, true);
}
void BM_W8_vae_decode(benchmark::State& state) {
  torch::manual_seed(0);
  AutoencoderKL vae(VaeConfig::from_json(json{{"block_out_channels", {128, 256, 512, 512}}, {"layers_per_block", 2},
                                              {"latent_channels", 4}, {"norm_num_groups", 32}},
                                         "bench"));
  torch::NoGradGuard no_grad;
  auto z = torch::randn({1, 4, 32, 32});
  const double flops = profiled_flops([&] { vae->decode(z); });
  vae->decode(z);
  for (auto _ : state) benchmark::DoNotOptimize(vae->decode(z));
  report(state, flops);
}

}  // namespace

BENCHMARK(BM_sgemm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_W1_fwd)->Name("W1.fwd")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_W2_fwd)->Name("W2.fwd")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_W2_fwdbwd)->Name("W2.fwdbwd")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_W3_fwd)->Name("W3.fwd")->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_W3_fwdbwd)->Name("W3.fwdbwd")->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_W8_vae_decode)->Name("W8.vae_decode")->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_tiny_fwdbwd)->Name("tiny.fwdbwd_b2")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sgemm)->Name("sgemm.after")->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  // --threads=N (default 1): intra-op threads for LibTorch and OpenBLAS. The
  // pool settings must be in the environment before the libraries load, so
  // the first run sets them and re-executes itself.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      g_threads = std::max(1, std::atoi(argv[i] + 10));
    else
      args.push_back(argv[i]);
  }
  if (!std::getenv("PBENCH_BENCH_ENV")) {
    for (const auto& [k, v] : pbench::thread_environment(g_threads)) setenv(k.c_str(), v.c_str(), 1);
    setenv("PBENCH_BENCH_ENV", "1", 1);
    execv("/proc/self/exe", argv);
  }
  at::set_num_threads(g_threads);
  int n = int(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
