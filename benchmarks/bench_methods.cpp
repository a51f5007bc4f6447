// One training step per parameterization method on the W1 shapes (issue 7):
// the tiny UNet (refvectors/unet architecture), sample [4,4,8,8], context
// [4,77,32]; a step = forward + MSE backward + AdamW step over the method's
// parameter groups. "W1.step.full" trains every UNet parameter (the
// DreamBooth-like reference point) and sgemm brackets the run, as in
// bench_unet (machine speed drifts between processes, TRAPS.md).
// The context is precomputed, so the text encoder is not in the step (Custom
// Diffusion's token row then has no gradient; its K/V step is what is timed).
//
// One process per thread count: bench_methods --threads=N [benchmark flags].
#include <benchmark/benchmark.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "framework/config/yaml_io.hpp"
#include "framework/models/pipeline.hpp"
#include "framework/train/method.hpp"
#include "framework/util/thread_env.hpp"

using namespace pbench;
using nlohmann::json;

namespace {

int g_threads = 1;

models::Pipeline w1_pipeline() {
  torch::manual_seed(0);
  json unet{{"block_out_channels", {32, 64}},
            {"layers_per_block", 1},
            {"down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}},
            {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D"}},
            {"cross_attention_dim", 32},
            {"attention_head_dim", 8},
            {"norm_num_groups", 16}};
  models::Pipeline p;
  p.source = "bench:W1";
  p.unet = models::UNet2DCondition(models::UNetConfig::from_json(unet, "W1"));
  models::ClipTextConfig text;
  text.encoder = models::ClipEncoderConfig{32, 64, 2, 4, 1e-5, models::Activation::kQuickGelu};
  p.text_encoder = models::ClipTextModel(text);
  // The method seams walk every component (freeze, count): a small VAE completes the pipeline.
  p.vae = models::AutoencoderKL(models::VaeConfig::from_json(
      nlohmann::json{{"block_out_channels", {8, 16}}, {"layers_per_block", 1}, {"norm_num_groups", 8}}, "small_vae"));
  p.tokenizer = std::make_shared<ClipTokenizer>(
      ClipTokenizer::from_folder(std::string(PBENCH_SOURCE_DIR) + "/framework/assets/clip_tokenizer"));
  return p;
}

void train_step_bench(benchmark::State& state, const std::string& method_yaml) {
  models::Pipeline p = w1_pipeline();
  std::vector<torch::Tensor> params;
  std::unique_ptr<Method> method;
  if (method_yaml.empty()) {
    params = p.unet->parameters();
  } else {
    cfg::Node section = cfg::parse_yaml_text(method_yaml, cfg::Origin{"bench", 0});
    method = methods().get(section.find("name")->as_string(), "bench").factory.create(section);
    MethodTarget target{p, nullptr};
    method->attach(target);
    for (auto& g : method->parameter_groups(1e-4))
      for (auto& t : g.params) params.push_back(t);
  }
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-4));
  torch::Tensor sample = torch::randn({4, 4, 8, 8}), timestep = torch::tensor({187, 582, 840, 431});
  torch::Tensor context = torch::randn({4, 77, 32}), target = torch::randn({4, 4, 8, 8});
  torch::Generator gen = at::detail::createCPUGenerator(1);
  int64_t step = 0;
  auto one = [&] {
    if (method) method->before_step(step, gen);
    opt.zero_grad();
    torch::mse_loss(p.unet->forward(sample, timestep, context), target).backward();
    opt.step();
    if (method) method->after_step(step);
    ++step;
  };
  one();  // warm-up: optimizer state, grad buffers
  for (auto _ : state) one();
  int64_t trainable = 0;
  for (const auto& t : params) trainable += t.numel();
  state.counters["trainable"] = double(trainable);
  state.counters["threads"] = g_threads;
}

void BM_sgemm(benchmark::State& state) {
  const int64_t n = 1024;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9 * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_sgemm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, full, std::string())->Name("W1.step.full")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, lora, std::string("name: lora\n"))->Name("W1.step.lora")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, svdiff, std::string("name: svdiff\n"))->Name("W1.step.svdiff")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, ia3, std::string("name: ia3\n"))->Name("W1.step.ia3")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, loha, std::string("name: loha\n"))->Name("W1.step.loha")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, lokr, std::string("name: lokr\n"))->Name("W1.step.lokr")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, difffit, std::string("name: difffit\n"))->Name("W1.step.difffit")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, dylora, std::string("name: dylora\n"))->Name("W1.step.dylora")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step_bench, custom_diffusion, std::string("name: custom_diffusion\n"))->Name("W1.step.custom_diffusion")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sgemm)->Name("sgemm.after")->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0)
      g_threads = std::max(1, std::atoi(argv[i] + 10));
    else
      args.push_back(argv[i]);
  }
  if (!std::getenv("PBENCH_BENCH_ENV")) {
    for (const auto& [k, v] : thread_environment(g_threads)) setenv(k.c_str(), v.c_str(), 1);
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
