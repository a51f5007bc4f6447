// Step 3 of the mini world (issue 38): on builtin:mini a short LoRA run on one
// subject raises CLIP-I (builtin:mini-clip) over the frozen model; with LoRA's
// gradient cut (a hook zeroing it: this test's switch for "the method stopped
// learning") the same run gains exactly nothing and the check fails.
//
// The control is the frozen model on the run's own prompts ("a sks cube ..."),
// not the class-word baseline of the run files ("a cube ..."): on builtin:mini
// the token alone moves DINO (its text embedding was never trained on the mini
// world; frozen-model DINO on token vs class-word prompts, seeds 0-3: 0.02 vs
// -0.14, -0.09 vs -0.18, -0.03 vs -0.20, -0.15 vs -0.27), so a gain over the
// class-word baseline cannot tell a learning method from a cut one. Over the
// same-prompt control a cut run gains exactly 0: LoRA's up factors stay 0, so
// its samples are the control's bit for bit.
//
// Why CLIP-I and not DINO (the issue asks for DINO): at CI budgets LoRA moves
// what mini-CLIP sees (colour) but not what mini-DINO sees (shape); measured
// DINO gains over the control were -0.03, +0.02, -0.01, +0.04 (lr 1e-3, seeds
// 0-3) and -0.04, -0.05, -0.02, +0.02, -0.10, -0.17 (lr 3e-3, seeds 0-5): none
// above noise, while CLIP-I rose at every seed (kClipMargin). DINO will carry this check once builtin:mini draws shapes
// (issue 36); the measurements are in docs/mini_world.md, step 3.
//
// The run (37.9 s here alone, 2 threads): red_white_striped_cube, LoRA r4 at lr 3e-3, 60 steps of batch 1;
// samples of kPrompts evaluation prompts x 1 image, 20 DDIM steps, guidance 5,
// the same seeds for control and trained. The margin comes from repeated runs
// (PBENCH_MINI_LORA_SEEDS=0,1,2,3,4,5 runs those seeds; see kClipMargin).
#define BOOST_TEST_MODULE mini_personalize
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <optional>
#include <sstream>

#include "datasets/dataset.hpp"
#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/guidance_prompts.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/personalize/baseline.hpp"
#include "metrics/metric.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;

namespace {

// CLIP-I gains over the control at run seeds 0-5 (measured here): 0.163, 0.094, 0.165, 0.080,
// 0.089, 0.122 (mean 0.119, std 0.036). The margin is half the smallest; CI runs seed 0 (0.163),
// and a cut gradient gives exactly 0.
constexpr double kClipMargin = 0.04;
constexpr int64_t kSteps = 60;
constexpr double kLr = 3e-3;
constexpr int64_t kPrompts = 6;

sample::SamplingOptions sampling() {
  sample::SamplingOptions o;
  o.num_inference_steps = 20;
  o.guidance_scale = 5.0;
  o.batch_size = kPrompts;
  return o;
}

struct Gains {
  double clip_i = 0.0, dino = 0.0;  // trained - control
};

// Mean of one registered metric over `set` against the subject's renders.
double mean_metric(const std::string& name, const sample::SampleSet& set, const SubjectData& subject) {
  static const models::ClipBackbone clip = models::load_clip_backbone(models::kBuiltinMiniClip);
  static const models::DinoBackbone dino = models::load_dino_backbone(models::kBuiltinMiniDino);
  metrics::MetricInputs in(set.images, set.prompts, images_u8(subject.images), subject.unique_token, {&clip, &dino});
  return metrics::metrics_registry().get(name, "test").factory.compute(in).mean;
}

// The LoRA run of one seed scored against the frozen model on the same prompts.
Gains lora_gains(int64_t seed, bool cut_gradient) {
  models::Pipeline pipeline = models::load_pipeline(models::kBuiltinMini);
  cfg::Node ds = cfg::parse_yaml_text("name: mini_world\nsubject: red_white_striped_cube\nunique_token: sks\nnum_eval_prompts: " +
                                          std::to_string(kPrompts) + "\n",
                                      {"test", 0});
  const auto& dataset = datasets().get("mini_world", "test");
  SubjectData subject = dataset.factory.load(cfg::with_defaults(ds, dataset.info.defaults),
                                             int(pipeline.resolution), test::scratch_dir("mini_personalize") / "cache");
  const auto jobs = sample::grid_jobs(subject.eval_prompts, 1);

  freeze_pipeline(pipeline);
  sample::SampleSet control = sample::sample_images(pipeline, jobs, seed, sampling());
  std::optional<sample::SampleSet> class_word;  // what the token alone does (diagnostic, not asserted)
  if (!cut_gradient)
    class_word = sample::sample_images(
        pipeline, sample::grid_jobs(personalize::class_word_prompts(subject.eval_prompts, subject.unique_token), 1), seed,
        sampling());

  cfg::Node section = cfg::parse_yaml_text("name: lora\nlr: " + std::to_string(kLr) + "\n", {"test", 0});
  const auto& entry = methods().get("lora", "test");
  std::unique_ptr<Method> lora = entry.factory.create(cfg::with_defaults(section, entry.info.defaults));
  MethodTarget target{pipeline, &subject, method_init_generator(seed)};
  lora->attach(target);
  if (cut_gradient)  // the switch: every LoRA gradient replaced by zeros before AdamW sees it
    for (const auto& group : lora->parameter_groups(kLr))
      for (torch::Tensor p : group.params) p.register_hook([](torch::Tensor g) { return torch::zeros_like(g); });

  TrainOptions train;
  train.steps = kSteps;
  train.batch_size = 1;
  train.lr = kLr;
  DvarOptions dvar;
  dvar.mode = StopMode::off;
  Trainer(pipeline, *lora, subject, train, dvar, seed).run({});

  GuidanceEncoders encoders = guidance_encoders(*lora, pipeline, subject);
  sample::SampleSet trained = sample::sample_images(pipeline, jobs, seed, sampling(), encoders.cond, encoders.negative);
  if (cut_gradient) BOOST_TEST(torch::equal(trained.images, control.images));
  Gains g{mean_metric("clip_i", trained, subject) - mean_metric("clip_i", control, subject),
          mean_metric("dino", trained, subject) - mean_metric("dino", control, subject)};
  BOOST_TEST_MESSAGE("seed " << seed << (cut_gradient ? " (gradient cut)" : "") << ": CLIP-I gain " << g.clip_i
                             << ", DINO gain " << g.dino);
  if (class_word) {
    BOOST_TEST_MESSAGE("  frozen model DINO on the token prompts " << mean_metric("dino", control, subject)
                                                                   << ", on the class-word prompts "
                                                                   << mean_metric("dino", *class_word, subject));
  }
  return g;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_short_lora_run_raises_clip_i_over_the_frozen_model_and_a_cut_gradient_does_not) {
  std::vector<int64_t> seeds = {0};
  if (const char* env = std::getenv("PBENCH_MINI_LORA_SEEDS")) {  // calibration: the margin's repeated runs
    seeds.clear();
    std::istringstream in(env);
    for (std::string s; std::getline(in, s, ',');) seeds.push_back(std::stoll(s));
  }
  for (int64_t seed : seeds) {
    const Gains g = lora_gains(seed, false);
    BOOST_TEST(g.clip_i > kClipMargin, "seed " << seed << ": CLIP-I gain " << g.clip_i);
  }
  if (std::getenv("PBENCH_MINI_LORA_SEEDS")) return;
  const Gains cut = lora_gains(seeds.front(), true);
  BOOST_TEST(!(cut.clip_i > kClipMargin), "with LoRA's gradient cut the CLIP-I gain is " << cut.clip_i);
  BOOST_TEST(cut.clip_i == 0.0);
  BOOST_TEST(cut.dino == 0.0);
}
