// UNet / VAE throughput (issues 4 and 10), named as issue 10's comparable workloads:
//   W1.fwd       the refvectors/unet (tiny) UNet, sample [4,4,8,8], timesteps [187,582,840,431],
//                context [4,77,32], no grad
//   W2.fwd       "small" UNet (SD v1.5 layout, block_out_channels [128,256,512,512]),
//                sample [1,4,32,32], timestep 684, context [1,77,768], no grad
//   W2.fwd_bwd   the same, forward + MSE backward (no optimizer)
//   W3.fwd       the SD v1.5 UNet, same inputs as W2 (and W3.fwd_bwd)
//   W8.decode    the SD v1.5 VAE decode, latents [1,4,32,32] -> [1,3,256,256]
//   tiny.fwd_bwd_b2  one training step's UNet work on builtin:tiny (batch 2, latent 16x16)
//   mini.fwd_bwd_b8  the same on builtin:mini's pretrained UNet (batch 8)
//   sgemm.1024   1024^3 fp32 torch::mm (the yardstick of the README's GFLOP/s table)
// plus REF.sgemm / REF.scalar (benchmarks/support/bench_support.hpp), the
// references the regression gate divides by.
//
// One process per thread count: bench_unet --threads=N [benchmark flags].
// Weights are random but builtin:mini's (speed does not depend on values). Each model is built
// once per process (Google Benchmark calls a benchmark once per repetition,
// and building the SD v1.5 UNet takes seconds) and warmed up once (the
// profiled forward below; gradient buffers allocated before the first step).
// Achieved GFLOP/s (counter GFLOPS) uses the forward FLOPs counted once by
// LibTorch's profiler (conv2d, addmm, mm, bmm, mul, add); forward+backward
// is counted as 3x the forward FLOPs.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <sys/resource.h>

#include <functional>
#include <memory>

#include "benchmarks/support/bench_support.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/models/sd/unet.hpp"
#include "framework/models/sd/vae.hpp"
#include "tests/support/tiny_configs.hpp"

using namespace pbench::models;
using nlohmann::json;
using pbench::bench::add;
using pbench::bench::set_gflops;

namespace {

json sd15_unet_json() {
  return json{{"block_out_channels", {320, 640, 1280, 1280}},
              {"layers_per_block", 2},
              {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 768},
              {"attention_head_dim", 8},
              {"norm_num_groups", 32}};
}

json small_unet_json() {
  json j = sd15_unet_json();
  j["block_out_channels"] = {128, 256, 512, 512};
  return j;
}

using pbench::fixtures::tiny_unet_json;  // the refvectors/unet architecture

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

struct UNetWorkload {
  UNet2DCondition unet{nullptr};
  torch::Tensor sample, timestep, context;
  double fwd_flops = 0;
  bool grads_allocated = false;

  void forward() {
    torch::NoGradGuard no_grad;
    benchmark::DoNotOptimize(unet->forward(sample, timestep, context));
  }
  void forward_backward() {
    unet->zero_grad();
    unet->forward(sample, timestep, context).square().mean().backward();
  }
};

std::unique_ptr<UNetWorkload> make_unet(const json& config, std::vector<int64_t> sample, torch::Tensor timestep,
                                        std::vector<int64_t> context) {
  torch::manual_seed(0);
  auto w = std::make_unique<UNetWorkload>();
  w->unet = UNet2DCondition(UNetConfig::from_json(config, "bench"));
  w->sample = torch::randn(sample);
  w->timestep = timestep;
  w->context = torch::randn(context);
  return w;
}

// One workload per process, built on first use.
UNetWorkload& w1() {
  static auto w = make_unet(tiny_unet_json(), {4, 4, 8, 8}, torch::tensor({187, 582, 840, 431}), {4, 77, 32});
  return *w;
}
UNetWorkload& w2() {
  static auto w = make_unet(small_unet_json(), {1, 4, 32, 32}, torch::tensor(684), {1, 77, 768});
  return *w;
}
UNetWorkload& w3() {
  static auto w = make_unet(sd15_unet_json(), {1, 4, 32, 32}, torch::tensor(684), {1, 77, 768});
  return *w;
}
UNetWorkload& tiny_b2() {
  static auto w = [] {
    torch::manual_seed(0);
    auto w = std::make_unique<UNetWorkload>();
    w->unet = load_pipeline("builtin:tiny").unet;
    w->unet->train();
    w->sample = torch::randn({2, 4, 16, 16});
    w->timestep = torch::tensor({187, 840});
    w->context = torch::randn({2, 77, 64});
    return w;
  }();
  return *w;
}

// builtin:mini's UNet (the shipped pretrained weights) at the pretraining
// recipe's shape per sample (latent 16x16, context 77x64), batch 8: one
// pretraining or personalization step's UNet work.
UNetWorkload& mini_b8() {
  static auto w = [] {
    torch::manual_seed(0);
    auto w = std::make_unique<UNetWorkload>();
    w->unet = load_pipeline(kBuiltinMini).unet;
    w->unet->train();
    w->sample = torch::randn({8, 4, 16, 16});
    w->timestep = torch::tensor({12, 187, 301, 455, 582, 699, 840, 951});
    w->context = torch::randn({8, 77, 64});
    return w;
  }();
  return *w;
}

// The profiled forward warms the forward up; for forward+backward the gradient
// buffers are allocated up front (what a first step would do) instead of
// running a whole multi-second step that the gate would wait for.
void run_unet(benchmark::State& state, int work, UNetWorkload& w, bool backward) {
  if (w.fwd_flops == 0) w.fwd_flops = profiled_flops([&] { w.forward(); });
  if (backward && !w.grads_allocated) {
    for (auto& p : w.unet->parameters())
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    w.grads_allocated = true;
  }
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  for (auto _ : state)
    for (int i = 0; i < work; ++i) backward ? w.forward_backward() : w.forward();
  getrusage(RUSAGE_THREAD, &after);
  // Where CPU time goes besides arithmetic: minor page faults on freshly
  // mapped memory and kernel time, per iteration (diagnostics for the gate's noise).
  const auto seconds = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
  state.counters["minflt"] = benchmark::Counter(double(after.ru_minflt - before.ru_minflt), benchmark::Counter::kAvgIterations);
  state.counters["sys_s"] = benchmark::Counter(seconds(after.ru_stime) - seconds(before.ru_stime), benchmark::Counter::kAvgIterations);
  set_gflops(state, (backward ? 3 : 1) * w.fwd_flops * work);
}

struct VaeWorkload {
  AutoencoderKL vae{nullptr};
  torch::Tensor z;
  double flops = 0;
};

VaeWorkload& w8() {
  static auto w = [] {
    torch::manual_seed(0);
    auto w = std::make_unique<VaeWorkload>();
    w->vae = AutoencoderKL(VaeConfig::from_json(json{{"block_out_channels", {128, 256, 512, 512}},
                                                     {"layers_per_block", 2},
                                                     {"latent_channels", 4},
                                                     {"norm_num_groups", 32}},
                                                "bench"));
    w->z = torch::randn({1, 4, 32, 32});
    torch::NoGradGuard no_grad;
    w->flops = profiled_flops([&] { w->vae->decode(w->z); });  // also the warm-up
    return w;
  }();
  return *w;
}

void w8_decode(benchmark::State& state, int work) {
  auto& w = w8();
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(w.vae->decode(w.z));
  set_gflops(state, w.flops * work);
}

void sgemm_1024(benchmark::State& state, int work) {
  const int64_t n = 1024;
  torch::manual_seed(0);
  auto a = torch::randn({n, n}), b = torch::randn({n, n}), c = torch::empty({n, n});
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) torch::mm_out(c, a, b);
  set_gflops(state, 2.0 * double(n * n * n) * work);
}

void register_benchmarks() {
  add("W1.fwd", [](benchmark::State& s, int work) { run_unet(s, work, w1(), false); });
  add("W2.fwd", [](benchmark::State& s, int work) { run_unet(s, work, w2(), false); });
  add("W2.fwd_bwd", [](benchmark::State& s, int work) { run_unet(s, work, w2(), true); });
  add("mini.fwd_bwd_b8", [](benchmark::State& s, int work) { run_unet(s, work, mini_b8(), true); });
  add("W3.fwd", [](benchmark::State& s, int work) { run_unet(s, work, w3(), false); });
  add("W3.fwd_bwd", [](benchmark::State& s, int work) { run_unet(s, work, w3(), true); });
  add("W8.decode", w8_decode);
  add("tiny.fwd_bwd_b2", [](benchmark::State& s, int work) { run_unet(s, work, tiny_b2(), true); });
  add("sgemm.1024", sgemm_1024);
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
