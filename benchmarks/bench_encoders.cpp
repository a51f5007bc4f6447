// Text and image encoders at full size (issue 10's comparable workloads),
// forward passes with random weights (configs built in, equal to
// ../shared/refvectors/full_configs):
//   W4.fwd  SD v1.5 text encoder (CLIP ViT-L/14 text tower), ids [8,77], last hidden state
//   W5.fwd  CLIP ViT-B/32 image tower + projection, pixels [16,3,224,224], image embeds
//   W6.fwd  DINO ViT-S/16, pixels [16,3,224,224], CLS embedding
// plus REF.sgemm / REF.scalar (benchmarks/support/bench_support.hpp).
// One process per thread count: bench_encoders --threads=N [benchmark flags].
// Each model is built once per process (Google Benchmark calls a benchmark
// once per repetition) and warmed up once.
#include <memory>

#include "benchmarks/support/bench_support.hpp"
#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"

using namespace pbench::models;
using pbench::bench::add;

namespace {

void w4_fwd(benchmark::State& state, int work) {
  static auto w = [] {
    torch::manual_seed(0);
    ClipTextConfig c;  // CLIP ViT-L/14 text tower as in SD v1.5
    c.encoder = {768, 3072, 12, 12, 1e-5, Activation::kQuickGelu};
    auto w = std::make_unique<std::pair<ClipTextModel, torch::Tensor>>(ClipTextModel(c), torch::Tensor());
    w->second = torch::randint(0, 49406, {8, 77}, torch::kInt64);
    w->second.index_put_({torch::indexing::Slice(), 76}, kClipEotTokenId);
    torch::NoGradGuard no_grad;
    w->first->forward(w->second);  // warm-up
    return w;
  }();
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(w->first->forward(w->second).last_hidden_state);
}

void w5_fwd(benchmark::State& state, int work) {
  static auto w = [] {
    torch::manual_seed(0);
    ClipVisionConfig c;  // image 224, patch 32, projection 512 (ViT-B/32)
    c.encoder = {768, 3072, 12, 12, 1e-5, Activation::kQuickGelu};
    c.with_projection = true;
    auto w = std::make_unique<std::pair<ClipVisionModel, torch::Tensor>>(ClipVisionModel(c),
                                                                         torch::randn({16, 3, 224, 224}));
    torch::NoGradGuard no_grad;
    w->first->forward(w->second);  // warm-up
    return w;
  }();
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(w->first->forward(w->second).image_embeds);
}

void w6_fwd(benchmark::State& state, int work) {
  static auto w = [] {
    torch::manual_seed(0);
    VitConfig c;
    c.hidden_size = 384;
    c.num_heads = 6;
    c.intermediate_size = 1536;
    auto w = std::make_unique<std::pair<DinoVitModel, torch::Tensor>>(DinoVitModel(c),
                                                                      torch::randn({16, 3, 224, 224}));
    torch::NoGradGuard no_grad;
    w->first->forward(w->second);  // warm-up
    return w;
  }();
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(w->first->forward(w->second).cls);
}

void register_benchmarks() {
  add("W4.fwd", w4_fwd);
  add("W5.fwd", w5_fwd);
  add("W6.fwd", w6_fwd);
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
