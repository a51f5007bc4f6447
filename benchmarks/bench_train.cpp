// One optimizer step on the W1 shapes (../shared/refvectors/unet config;
// sample [4,4,8,8], timesteps [187,582,840,431], context [4,77,32]):
//   W1.train_full          zero grads, forward, MSE to a target, backward, AdamW (lr 1e-5) on every UNet parameter
//   W1.train_<method>      the same step with the method attached through the engine's method interface,
//                          stepped as the engine's Trainer steps it: before_step (DyLoRA samples its rank),
//                          gradients cleared to undefined (clear_gradients), forward, backward, AdamW, after_step
//                          (registry defaults; W1.train_lora = LoRA rank 4 on every to_q/to_k/to_v/to_out.0, lr 1e-4)
// Text-side methods (textual_inversion, prompt_tuning, p_plus) train no UNet
// tensor: their step takes the context from their own training prompt through
// a text encoder (builtin:tiny's architecture, 2 layers, 4 heads, at width 32
// = W1's cross_attention_dim, seeded init; 4 copies of the prompt as the
// batch), so the row measures what they train: text encoder forward + backward
// into the token rows on top of the UNet step.
// A search method (gradient_free_ti, framework/train/candidate_search.hpp) has no optimizer
// step: its row is one generation as the Trainer runs it, with autograd off: propose, then
// per candidate install + text encoder + UNet forward + MSE, then report (population forward
// passes, no backward one), so the row is that method's cost per step.
// An image-conditioned method (disenbooth) takes its step's loss from Method::batch_loss, as the
// Trainer does (DisenBooth: the image-conditioned and the text-only UNet pass), with the
// subject's four fixed random images as the batch's rows and builtin:tiny-clip as its image
// encoder (32-d: the W1 context width).
// One process per thread count: bench_train --threads=N.
#include <map>
#include <memory>

#include "benchmarks/support/bench_support.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/train/candidate_search.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "tests/support/tiny_configs.hpp"

namespace {

using pbench::bench::add;

struct W1 {
  pbench::models::Pipeline pipeline = pbench::models::load_pipeline("builtin:tiny");
  torch::Tensor sample, timesteps, context, target;
  W1() {
    torch::manual_seed(0);
    pipeline.unet = pbench::models::UNet2DCondition(pbench::models::UNetConfig::from_json(pbench::fixtures::tiny_unet_json(), "W1"));
    pbench::models::ClipTextConfig text = pipeline.text_encoder->config;
    text.encoder.hidden_size = 32;  // = the W1 context width
    text.encoder.intermediate_size = 64;
    pipeline.text_encoder = pbench::models::ClipTextModel(text);
    sample = torch::randn({4, 4, 8, 8});
    timesteps = torch::tensor({187, 582, 840, 431});
    context = torch::randn({4, 77, 32});
    target = torch::randn({4, 4, 8, 8});
  }
};

// One training setup per benchmark, built once per process: Google Benchmark
// calls a benchmark once per repetition and per iteration-count probe, and
// rebuilding the pipeline each time cost more than the steps measured.
struct TrainStep {
  W1 w;
  std::unique_ptr<pbench::Method> method;  // null for W1.train_full
  std::unique_ptr<torch::optim::AdamW> optimizer;
  torch::Tensor prompt_ids;  // text-side methods: their training prompt, 4 rows
  std::vector<torch::Tensor> trained;  // what the method trains (clear_gradients)
  pbench::CandidateSearch* search = nullptr;  // the method, when it learns by search
  torch::Generator generator = at::detail::createCPUGenerator(0);  // before_step's draws
  int64_t steps = 0;
  // The batch's rows are the subject's images 0..3, none mirrored (image-conditioned methods).
  pbench::BatchImages batch_images{torch::arange(4, torch::kInt64), torch::zeros({4}, torch::kBool), {}};

  void step() {
    if (search) return generation();
    if (!method) {
      optimizer->zero_grad();
    } else {
      method->before_step(++steps, generator);
      pbench::clear_gradients(trained);
    }
    torch::Tensor context = prompt_ids.defined() ? pbench::models::encode_token_ids(w.pipeline, prompt_ids) : w.context;
    // As the trainer asks: the method's loss of the batch (one pass, or DisenBooth's two).
    const pbench::DenoisingLossOf loss_of = [&](const torch::Tensor& c) {
      return torch::mse_loss(w.pipeline.unet->forward(w.sample, w.timesteps, c), w.target);
    };
    (method ? method->batch_loss(context, batch_images, loss_of) : loss_of(context)).backward();
    optimizer->step();
    if (method) method->after_step(steps);
  }
  void generation() {
    pbench::run_generation(*search, generator, [&](int64_t) {
      torch::Tensor context = pbench::models::encode_token_ids(w.pipeline, prompt_ids);
      return torch::mse_loss(w.pipeline.unet->forward(w.sample, w.timesteps, context), w.target).item<double>();
    });
  }
  void warm_up() {  // gradient buffers and optimizer state
    w.pipeline.unet->train();
    step();
  }
};

void run_steps(benchmark::State& state, int work, TrainStep& t) {
  for (auto _ : state)
    for (int i = 0; i < work; ++i) t.step();
}

void train_full(benchmark::State& state, int work) {
  static const auto t = [] {
    auto t = std::make_unique<TrainStep>();
    t->optimizer = std::make_unique<torch::optim::AdamW>(t->w.pipeline.unet->parameters(),
                                                         torch::optim::AdamWOptions(1e-5));
    t->warm_up();
    return t;
  }();
  run_steps(state, work, *t);
}

std::unique_ptr<TrainStep> make_method_step(const std::string& name) {
  auto t = std::make_unique<TrainStep>();
  const auto& entry = pbench::methods().get(name, "bench_train");
  pbench::cfg::Node options = entry.info.defaults;
  // An image-conditioned method's encoder must embed at the W1 context width (32): builtin:tiny-clip's.
  if (options.find("image_encoder")) options = pbench::cfg::with_defaults(
      pbench::cfg::parse_yaml_text("image_encoder: builtin:tiny-clip\n", {"bench_train", 0}), options);
  t->method = entry.factory.create(options);
  pbench::freeze_pipeline(t->w.pipeline);
  // The subject text-side methods initialise from and prompt with (class-label inits need one), and
  // four fixed random images (image-conditioned methods encode them at attach).
  pbench::SubjectData subject;
  subject.dataset = "builtin";  // COTI's default image pool: mini-world renders (methods/coti_pool.hpp)
  subject.class_noun = "dog";
  subject.unique_token = "sks";
  subject.instance_prompt = "a sks dog";
  subject.class_prompt = "a dog";
  torch::Generator image_gen = at::detail::createCPUGenerator(1);
  const int64_t side = t->w.pipeline.resolution;
  const torch::Tensor u8 = torch::randint(256, {4, side, side, 3}, image_gen, torch::kUInt8);
  for (int64_t i = 0; i < 4; ++i) subject.images.push_back(pbench::image_at(u8, i));
  pbench::MethodTarget target{t->w.pipeline, &subject};
  t->method->attach(target);
  bool unet_trains = false;
  for (const auto& p : t->w.pipeline.unet->parameters()) unet_trains |= p.requires_grad();
  if (!unet_trains) {
    const std::string prompt = t->method->train_prompt(subject);
    t->prompt_ids = pbench::models::prompt_token_ids(t->w.pipeline, std::vector<std::string>(4, prompt));
  }
  t->search = dynamic_cast<pbench::CandidateSearch*>(t->method.get());
  if (t->search) {  // no optimizer: each step is a generation
    t->warm_up();
    return t;
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const auto& g : t->method->parameter_groups(1e-4))
    if (!g.params.empty()) {
      groups.emplace_back(g.params, std::make_unique<torch::optim::AdamWOptions>(g.lr));
      t->trained.insert(t->trained.end(), g.params.begin(), g.params.end());
    }
  t->optimizer = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(1e-4));
  t->warm_up();
  return t;
}

void train_method(benchmark::State& state, int work, const std::string& name) {
  static std::map<std::string, std::unique_ptr<TrainStep>> steps;
  auto& t = steps[name];
  if (!t) t = make_method_step(name);
  run_steps(state, work, *t);
}

void register_benchmarks() {
  add("W1.train_full", train_full);
  for (const auto& name : pbench::methods().names())
    add("W1.train_" + name, [name](benchmark::State& state, int work) { train_method(state, work, name); });
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
