// W4 SD v1.5 text encoder ids [8,77], W5 CLIP ViT-B/32 vision+projection
// [16,3,224,224], W6 DINO ViT-S/16 [16,3,224,224]: forward passes with random
// weights (configs built in, equal to ../shared/refvectors/full_configs).
// Threads come from PBENCH_BENCH_THREADS (default 1); run one process per
// thread setting with the spin settings in the environment (TRAPS.md):
//   GOMP_SPINCOUNT=10000 OPENBLAS_THREAD_TIMEOUT=4 OPENBLAS_NUM_THREADS=2
//   PBENCH_BENCH_THREADS=2 build/bin/bench_encoders   (one command line)
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "framework/models/clip_text.hpp"
#include "framework/models/clip_vision.hpp"
#include "framework/models/dino_vit.hpp"

using namespace pbench::models;

namespace {

int bench_threads() {
  const char* env = std::getenv("PBENCH_BENCH_THREADS");
  return env ? std::max(1, std::atoi(env)) : 1;
}

void BM_W4_sd15_text_encoder(benchmark::State& state) {
  at::set_num_threads(bench_threads());
  ClipTextConfig c;  // CLIP ViT-L/14 text tower as in SD v1.5
  c.encoder = {768, 3072, 12, 12, 1e-5, Activation::kQuickGelu};
  ClipTextModel model(c);
  torch::NoGradGuard no_grad;
  torch::Tensor ids = torch::randint(0, 49406, {8, 77}, torch::kInt64);
  ids.index_put_({torch::indexing::Slice(), 76}, kClipEotTokenId);
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(ids).last_hidden_state);
  state.counters["threads"] = at::get_num_threads();
}

void BM_W5_clip_vit_b32_vision(benchmark::State& state) {
  at::set_num_threads(bench_threads());
  ClipVisionConfig c;  // image 224, patch 32, projection 512 (ViT-B/32)
  c.encoder = {768, 3072, 12, 12, 1e-5, Activation::kQuickGelu};
  c.with_projection = true;
  ClipVisionModel model(c);
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({16, 3, 224, 224});
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).image_embeds);
  state.counters["threads"] = at::get_num_threads();
}

void BM_W6_dino_vits16(benchmark::State& state) {
  at::set_num_threads(bench_threads());
  VitConfig c;
  c.hidden_size = 384;
  c.num_heads = 6;
  c.intermediate_size = 1536;
  DinoVitModel model(c);
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({16, 3, 224, 224});
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).cls);
  state.counters["threads"] = at::get_num_threads();
}

}  // namespace

BENCHMARK(BM_W4_sd15_text_encoder)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_W5_clip_vit_b32_vision)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_W6_dino_vits16)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

BENCHMARK_MAIN();
