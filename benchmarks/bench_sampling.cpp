// Sampling and metric throughput (issues 6 and 10):
// - W7.sample: DDIM sampling with classifier-free guidance on a tiny pipeline
//   (the refvectors/unet UNet, a 2-block VAE), SD v1.5 scheduler config, 50
//   steps, scale 7.5, latents [4,4,8,8] and context [8,77,32] per UNet call
//   (4 images guided together); one iteration = 4 images (counter s/image),
//   VAE decode included, prompts pre-encoded (the text encoder runs once per
//   prompt, outside the loop).
// - W7.invert: one 16x16 image on the same pipeline and scheduler: VAE posterior mean, DDIM
//   inversion at guidance 1 (50 steps, latent [1,4,8,8]), reconstruction at 7.5 (50 steps of
//   [2,4,8,8]), decode (framework/sample/ddim_inversion.hpp); counter s/image.
// - W7.edit: Prompt-to-Prompt on the same pipeline with a tiny text encoder (D=32) and the CLIP
//   tokenizer: "a sks dog" -> "a sks cat" from one latent [1,4,8,8], 50 steps at 7.5 (UNet
//   batch [4,4,8,8] with the attention controller), both branches decoded; counter s/edit.
// - builtin_tiny.sample: the same loop on builtin:tiny as shipped (latents
//   16x16, context 64); builtin_mini.sample on builtin:mini (pretrained).
// - metrics.clip_image_embeddings / metrics.dino_embeddings: CLIP / DINO
//   embedding throughput of small metric towers (image_size 32) on 16 64x64
//   uint8 images, preprocessing included (counter images/s).
// plus REF.sgemm / REF.scalar (benchmarks/support/bench_support.hpp).
// Weights are random (builtin:mini: its shipped ones): speed does not depend on them. Each pipeline is built
// once per process and warmed up once.
//
// One process per thread count: bench_sampling --threads=N [benchmark flags].
#include <map>
#include <memory>

#include "benchmarks/support/bench_support.hpp"
#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/sample/prompt_to_prompt.hpp"
#include "framework/util/assets.hpp"
#include "metrics/backbones.hpp"
#include "tests/support/tiny_configs.hpp"

using namespace pbench;
using nlohmann::json;
using pbench::bench::add;

namespace {

models::Pipeline tiny_pipeline() {
  torch::manual_seed(0);
  models::Pipeline p;
  p.source = "bench:tiny";
  p.unet = models::UNet2DCondition(models::UNetConfig::from_json(
fixtures::tiny_unet_json(), "bench unet"));
  p.vae = models::AutoencoderKL(models::VaeConfig::from_json(
      json{{"block_out_channels", {32, 64}}, {"layers_per_block", 1}, {"latent_channels", 4}, {"norm_num_groups", 16}},
      "bench vae"));
  p.scheduler = fixtures::sd15_scheduler_config();
  p.resolution = 16;
  p.unet->eval();
  p.vae->eval();
  return p;
}

// A pipeline, its cached prompt contexts and the 4-image job list, built once per process.
struct SamplingWorkload {
  models::Pipeline pipeline;
  std::map<std::string, torch::Tensor> contexts;
  sample::PromptEncoder encode;
  std::vector<sample::ImageJob> jobs = sample::grid_jobs({"a sks dog", "a sks dog on the beach"}, 2);
  sample::SamplingOptions options;  // 50 steps, 7.5, eta 0

  // `context_of` makes a prompt's context the first time it is seen.
  SamplingWorkload(models::Pipeline p, sample::PromptEncoder context_of) : pipeline(std::move(p)) {
    encode = [this, context_of](const std::string& prompt) {
      auto it = contexts.find(prompt);
      if (it == contexts.end()) it = contexts.emplace(prompt, context_of(prompt)).first;
      return it->second;
    };
    options.batch_size = 4;  // 4 images, one batch
    run();                   // warm-up
  }
  SamplingWorkload(const SamplingWorkload&) = delete;  // `encode` points at this object
  torch::Tensor run() { return sample::sample_images(pipeline, jobs, 0, options, encode).images; }
};

void run_sampling(benchmark::State& state, int work, SamplingWorkload& w) {
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(w.run());
  // Seconds per image: iterations x 4 images.
  state.counters["s/image"] = benchmark::Counter(double(state.iterations()) * 4.0,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void w7_sample(benchmark::State& state, int work) {
  // Fixed random contexts per prompt ([1,77,32]): the loop, not the text encoder, is measured.
  static SamplingWorkload w(tiny_pipeline(), [](const std::string&) { return torch::randn({1, 77, 32}); });
  run_sampling(state, work, w);
}

void w7_invert(benchmark::State& state, int work) {
  struct Fixture {
    models::Pipeline pipeline = tiny_pipeline();
    torch::Tensor image = torch::randint(0, 256, {16, 16, 3}, torch::kUInt8);
    torch::Tensor cond = torch::randn({1, 77, 32}), uncond = torch::randn({1, 77, 32});
    torch::Tensor run() {
      torch::Tensor z0 = sample::image_latent(pipeline, image);
      std::vector<torch::Tensor> trajectory = sample::ddim_invert(pipeline, z0, cond, 50);
      return sample::decode_latents_u8(pipeline, sample::ddim_denoise(pipeline, trajectory.back(), cond, {uncond}, 7.5, 50));
    }
  };
  static Fixture f = [] {
    torch::manual_seed(0);
    Fixture x;
    x.run();  // warm-up
    return x;
  }();
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(f.run());
  state.counters["s/image"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate |
                                                                                 benchmark::Counter::kInvert);
}

void w7_edit(benchmark::State& state, int work) {
  struct Fixture {
    models::Pipeline pipeline;
    torch::Tensor z = torch::randn({1, 4, 8, 8});
    torch::Tensor uncond;
    torch::Tensor run() {
      sample::PromptToPromptOptions o;  // 50 steps, 7.5, cross 0.8, self 0.4
      sample::EditLatents r = sample::prompt_to_prompt(pipeline, z, "a sks dog", "a sks cat", {uncond}, o);
      return sample::decode_latents_u8(pipeline, torch::cat({r.source, r.edit}));
    }
  };
  static Fixture f = [] {
    torch::manual_seed(0);
    Fixture x;
    x.pipeline = tiny_pipeline();
    x.pipeline.tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(assets_dir() / "clip_tokenizer"));
    models::ClipTextConfig text;
    text.encoder = models::ClipEncoderConfig{32, 64, 1, 2, 1e-5, models::Activation::kQuickGelu};
    x.pipeline.text_encoder = models::ClipTextModel(text);
    x.pipeline.text_encoder->eval();
    torch::NoGradGuard no_grad;
    x.uncond = models::encode_prompts(x.pipeline, {""});
    x.run();  // warm-up
    return x;
  }();
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(f.run());
  state.counters["s/edit"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate |
                                                                                benchmark::Counter::kInvert);
}

// The same on builtin:tiny as shipped (its own latent size and text encoder;
// prompt embeddings cached so only sampling and decoding are timed).
void builtin_tiny_sample(benchmark::State& state, int work) {
  static SamplingWorkload w = [] {
    models::Pipeline p = models::load_pipeline("builtin:tiny");
    sample::PromptEncoder base = sample::default_prompt_encoder(p);
    return SamplingWorkload(p, base);
  }();
  run_sampling(state, work, w);
  state.counters["latent"] = double(w.pipeline.latent_size());
}

// builtin:mini as shipped (pretrained weights, 64 px): 50 DDIM steps at
// guidance 7.5 of 4 images (what an evaluation of a personalized model does per 4 images).
void builtin_mini_sample(benchmark::State& state, int work) {
  static SamplingWorkload w = [] {
    models::Pipeline p = models::load_pipeline(models::kBuiltinMini);
    sample::PromptEncoder base = sample::default_prompt_encoder(p);
    return SamplingWorkload(p, base);
  }();
  run_sampling(state, work, w);
}

torch::Tensor bench_images(int64_t n) { return torch::randint(0, 256, {n, 64, 64, 3}, torch::kUInt8); }

void clip_image_embeddings(benchmark::State& state, int work) {
  static const auto fixture = [] {
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
    return std::make_pair(clip, bench_images(16));
  }();
  const auto& [clip, images] = fixture;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(metrics::clip_image_embeddings(clip, images));
  state.counters["images/s"] = benchmark::Counter(double(state.iterations()) * 16.0, benchmark::Counter::kIsRate);
}

void dino_embeddings(benchmark::State& state, int work) {
  static const auto fixture = [] {
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
    return std::make_pair(dino, bench_images(16));
  }();
  const auto& [dino, images] = fixture;
  for (auto _ : state)
    for (int i = 0; i < work; ++i) benchmark::DoNotOptimize(metrics::dino_embeddings(dino, images));
  state.counters["images/s"] = benchmark::Counter(double(state.iterations()) * 16.0, benchmark::Counter::kIsRate);
}

void register_benchmarks() {
  add("W7.sample", w7_sample);
  add("W7.invert", w7_invert);
  add("W7.edit", w7_edit);
  add("builtin_tiny.sample", builtin_tiny_sample);
  add("builtin_mini.sample", builtin_mini_sample);
  add("metrics.clip_image_embeddings", clip_image_embeddings);
  add("metrics.dino_embeddings", dino_embeddings);
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
