// Adaptable layers (framework/tensor/adaptable_layers) against the torch::nn
// layers they replace, forward only, no grad, fp32. Without attached
// parameterizations an adaptable layer must cost what torch::nn costs: the
// pair shows the seam's overhead, and GFLOPS against REF.sgemm's shows how
// much of the machine's matmul rate a layer reaches.
//  layers.linear_{adaptable,torch}  x [2,1024,320] -> Linear(320, 320)  (an SD attention projection)
//  layers.conv2d_{adaptable,torch}  x [1,128,32,32] -> Conv2d(128, 128, 3, padding 1)
#include "benchmarks/support/bench_support.hpp"
#include "framework/tensor/adaptable_layers.hpp"

namespace {

using pbench::bench::add;

constexpr int64_t kTokens = 2 * 1024, kWidth = 320;
constexpr int64_t kChannels = 128, kSide = 32;
constexpr double kLinearFlops = 2.0 * kTokens * kWidth * kWidth;
constexpr double kConvFlops = 2.0 * kSide * kSide * kChannels * kChannels * 9;

template <typename Layer>
void run_forward(benchmark::State& state, int work, Layer& layer, const torch::Tensor& x, double flops) {
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) {
      const torch::Tensor y = layer->forward(x);
      benchmark::DoNotOptimize(y.data_ptr<float>());
    }
  }
  pbench::bench::set_gflops(state, flops * work);
}

void linear_adaptable(benchmark::State& state, int work) {
  torch::manual_seed(0);
  pbench::nn::Linear layer(kWidth, kWidth);
  run_forward(state, work, layer, torch::randn({2, 1024, kWidth}), kLinearFlops);
}
void linear_torch(benchmark::State& state, int work) {
  torch::manual_seed(0);
  torch::nn::Linear layer(kWidth, kWidth);
  run_forward(state, work, layer, torch::randn({2, 1024, kWidth}), kLinearFlops);
}

torch::nn::Conv2dOptions conv_options() { return torch::nn::Conv2dOptions(kChannels, kChannels, 3).padding(1); }
void conv2d_adaptable(benchmark::State& state, int work) {
  torch::manual_seed(0);
  pbench::nn::Conv2d layer(conv_options());
  run_forward(state, work, layer, torch::randn({1, kChannels, kSide, kSide}), kConvFlops);
}
void conv2d_torch(benchmark::State& state, int work) {
  torch::manual_seed(0);
  torch::nn::Conv2d layer(conv_options());
  run_forward(state, work, layer, torch::randn({1, kChannels, kSide, kSide}), kConvFlops);
}

void register_benchmarks() {
  add("layers.linear_adaptable", linear_adaptable);
  add("layers.linear_torch", linear_torch);
  add("layers.conv2d_adaptable", conv2d_adaptable);
  add("layers.conv2d_torch", conv2d_torch);
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
