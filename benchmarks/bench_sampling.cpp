// Sampling and metric throughput (issue 6):
// - W7: DDIM sampling with classifier-free guidance on a tiny pipeline (the
//   refvectors/unet UNet, a 2-block VAE), SD v1.5 scheduler config, 50 steps,
//   scale 7.5, latents [4,4,8,8] and context [8,77,32] per UNet call (4 images
//   guided together); reported per image, VAE decode included, prompts
//   pre-encoded (the text encoder runs once per prompt, outside the loop).
// - the same loop on builtin:tiny as shipped (latents 16x16, context 64).
// - CLIP / DINO embedding throughput of small metric towers (image_size 32)
//   on 64x64 uint8 images, preprocessing included; images/s.
// Beside an sgemm in the same process (machine speed drifts between
// processes, ../shared/TRAPS.md). Weights are random: speed does not depend on them.
//
// One process per thread count: bench_sampling --threads=N [benchmark flags].
#include <benchmark/benchmark.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "framework/sample/ddim_sampling.hpp"
#include "framework/util/thread_env.hpp"
#include "metrics/backbones.hpp"

using namespace pbench;
using nlohmann::json;

namespace {

int g_threads = 1;

void BM_sgemm(benchmark::State& state) {
  const int64_t n = 1024;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9 * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

models::Pipeline tiny_pipeline() {
  torch::manual_seed(0);
  models::Pipeline p;
  p.source = "bench:tiny";
  p.unet = models::UNet2DCondition(models::UNetConfig::from_json(
      json{{"block_out_channels", {32, 64}},
           {"layers_per_block", 1},
           {"down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}},
           {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D"}},
           {"cross_attention_dim", 32},
           {"attention_head_dim", 8},
           {"norm_num_groups", 16}},
      "bench unet"));
  p.vae = models::AutoencoderKL(models::VaeConfig::from_json(
      json{{"block_out_channels", {32, 64}}, {"layers_per_block", 1}, {"latent_channels", 4}, {"norm_num_groups", 16}},
      "bench vae"));
  p.scheduler.beta_start = 0.00085;  // SD v1.5 scheduler_config.json
  p.scheduler.beta_end = 0.012;
  p.scheduler.beta_schedule = "scaled_linear";
  p.scheduler.clip_sample = false;
  p.scheduler.set_alpha_to_one = false;
  p.scheduler.steps_offset = 1;
  p.resolution = 16;
  p.unet->eval();
  p.vae->eval();
  return p;
}

void BM_W7_tiny_ddim_per_image(benchmark::State& state) {
  models::Pipeline p = tiny_pipeline();
  // Fixed contexts per prompt ([1,77,32]): the loop, not the text encoder, is measured.
  std::map<std::string, torch::Tensor> contexts;
  sample::PromptEncoder encode = [&](const std::string& prompt) {
    auto it = contexts.find(prompt);
    if (it == contexts.end()) it = contexts.emplace(prompt, torch::randn({1, 77, 32})).first;
    return it->second;
  };
  auto jobs = sample::grid_jobs({"a sks dog", "a sks dog on the beach"}, 2);  // 4 images, one batch
  sample::SamplingOptions options;                                          // 50 steps, 7.5, eta 0
  options.batch_size = 4;
  sample::sample_images(p, jobs, 0, options, encode);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(sample::sample_images(p, jobs, 0, options, encode).images);
  // Seconds per image: iterations x 4 images.
  state.counters["s/image"] = benchmark::Counter(double(state.iterations()) * 4.0,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["threads"] = g_threads;
}

// The same on builtin:tiny as shipped (its own latent size and text encoder;
// prompt embeddings cached so only sampling and decoding are timed).
void BM_builtin_tiny_ddim_per_image(benchmark::State& state) {
  models::Pipeline p = models::load_pipeline("builtin:tiny");
  sample::PromptEncoder base = sample::default_prompt_encoder(p);
  std::map<std::string, torch::Tensor> contexts;
  sample::PromptEncoder encode = [&](const std::string& prompt) {
    auto it = contexts.find(prompt);
    if (it == contexts.end()) it = contexts.emplace(prompt, base(prompt)).first;
    return it->second;
  };
  auto jobs = sample::grid_jobs({"a sks dog", "a sks dog on the beach"}, 2);
  sample::SamplingOptions options;
  options.batch_size = 4;
  sample::sample_images(p, jobs, 0, options, encode);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(sample::sample_images(p, jobs, 0, options, encode).images);
  state.counters["s/image"] = benchmark::Counter(double(state.iterations()) * 4.0,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["latent"] = double(p.latent_size());
  state.counters["threads"] = g_threads;
}

torch::Tensor bench_images(int64_t n) { return torch::randint(0, 256, {n, 64, 64, 3}, torch::kUInt8); }

void BM_clip_image_embeddings(benchmark::State& state) {
  torch::manual_seed(0);
  metrics::ClipBackbone clip;
  clip.source = "bench:clip";
  models::ClipVisionConfig c;
  c.encoder = models::ClipEncoderConfig{64, 256, 2, 4, 1e-5, models::Activation::kQuickGelu};
  c.image_size = 32;
  c.patch_size = 8;
  c.projection_dim = 32;
  c.with_projection = true;
  clip.vision = models::ClipVisionModel(c);
  clip.preprocess = metrics::clip_metric_preprocess(32);
  torch::Tensor images = bench_images(16);
  for (auto _ : state) benchmark::DoNotOptimize(metrics::clip_image_embeddings(clip, images));
  state.counters["images/s"] = benchmark::Counter(double(state.iterations()) * 16.0, benchmark::Counter::kIsRate);
  state.counters["threads"] = g_threads;
}

void BM_dino_embeddings(benchmark::State& state) {
  torch::manual_seed(0);
  metrics::DinoBackbone dino;
  dino.source = "bench:dino";
  models::VitConfig c;
  c.hidden_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.intermediate_size = 256;
  c.layer_norm_eps = 1e-6;
  c.image_size = 32;
  c.patch_size = 8;
  dino.model = models::DinoVitModel(c);
  torch::Tensor images = bench_images(16);
  for (auto _ : state) benchmark::DoNotOptimize(metrics::dino_embeddings(dino, images));
  state.counters["images/s"] = benchmark::Counter(double(state.iterations()) * 16.0, benchmark::Counter::kIsRate);
  state.counters["threads"] = g_threads;
}

}  // namespace

BENCHMARK(BM_sgemm)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_W7_tiny_ddim_per_image)->Name("W7.tiny_ddim")->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_builtin_tiny_ddim_per_image)->Name("builtin_tiny_ddim")->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_clip_image_embeddings)->Name("clip_image_embeddings")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dino_embeddings)->Name("dino_embeddings")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sgemm)->Name("sgemm.after")->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  // --threads=N (default 1). The pool settings must be in the environment
  // before the libraries load: the first run sets them and re-executes itself.
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
