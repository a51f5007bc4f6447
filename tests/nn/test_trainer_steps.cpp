// DVAR in the training loop on builtin:tiny, against yandex-research/DVAR:
// the objective is evaluated before each optimizer step, every `every` steps
// counted from the first, and the step that fires still takes its update.
#define BOOST_TEST_MODULE trainer_steps
#include <boost/test/unit_test.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/train/trainer.hpp"

using namespace pbench;

namespace {

// builtin:tiny with one method attached (its registry defaults under `yaml`) and a 3-image subject.
struct Setup {
  models::Pipeline pipeline = models::load_pipeline("builtin:tiny");
  SubjectData subject;
  std::unique_ptr<Method> method;
  explicit Setup(const std::string& yaml) {
    cfg::Node ds = cfg::parse_yaml_text("name: builtin\nsubject: red_cube\nunique_token: sks\nnum_images: 3\nnum_eval_prompts: 2\n",
                                        {"test", 0});
    subject = datasets().get("builtin", "test").factory.load(ds, int(pipeline.resolution), {});
    cfg::Node s = cfg::parse_yaml_text(yaml, {"test", 0});
    const auto& entry = methods().get(cfg::get_string(s, "name"), "test");
    method = entry.factory.create(cfg::with_defaults(s, entry.info.defaults));
    freeze_pipeline(pipeline);
    MethodTarget target{pipeline, &subject};
    method->attach(target);
  }
};

TrainOptions small_train(int64_t steps) {
  TrainOptions t;
  t.steps = steps;
  t.batch_size = 1;
  t.lr = 1e-3;
  return t;
}

const char* kTextualInversion = "name: textual_inversion\nlr: 5.0e-3\n";

}  // namespace

BOOST_AUTO_TEST_CASE(dvar_evaluates_before_the_optimizer_step) {
  Setup s(kTextualInversion);
  DvarOptions dvar;
  dvar.window = 2;
  Trainer trainer(s.pipeline, *s.method, s.subject, small_train(3), dvar, 7);
  const double initial = trainer.deterministic_objective();
  std::vector<std::pair<int64_t, float>> logged;
  TrainCallbacks cb;
  cb.on_dvar = [&](int64_t step, float objective, float) { logged.emplace_back(step, objective); };
  trainer.run(cb);
  BOOST_REQUIRE_EQUAL(logged.size(), 3u);
  // Step 1's value is the objective of the weights before any update (the
  // reference computes it after backward, before optimizer.step()).
  BOOST_TEST(logged[0].first == 1);
  BOOST_TEST(logged[0].second == float(initial));
  BOOST_TEST(logged[1].second != logged[0].second);
}

BOOST_AUTO_TEST_CASE(dvar_every_counts_from_the_first_step) {
  // The reference evaluates when global_step % early_stop_freq == 0, global_step
  // counting updates done: steps 1, 1 + every, 1 + 2·every, … here.
  Setup s(kTextualInversion);
  DvarOptions dvar;
  dvar.window = 2;
  dvar.every = 2;
  Trainer trainer(s.pipeline, *s.method, s.subject, small_train(5), dvar, 7);
  std::vector<int64_t> steps;
  TrainCallbacks cb;
  cb.on_dvar = [&](int64_t step, float, float) { steps.push_back(step); };
  trainer.run(cb);
  BOOST_TEST(steps == (std::vector<int64_t>{1, 3, 5}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dvar_stop_finishes_the_step_that_fired) {
  // The reference's stopper fires on the objective before step s's update; the
  // update still happens, then the loop breaks: s steps trained, and the stop
  // delta is the final one.
  Setup s(kTextualInversion);
  DvarOptions dvar;
  dvar.mode = StopMode::stop;
  dvar.window = 2;
  dvar.threshold = 10.0;  // var(window) / var(all) = 1 once two values exist
  Trainer trainer(s.pipeline, *s.method, s.subject, small_train(6), dvar, 7);
  TrainResult r = trainer.run({});
  BOOST_TEST(r.dvar_stop_step == 2);
  BOOST_TEST(r.steps_trained == 2);
  BOOST_TEST(torch::equal(r.delta_at_dvar_stop.at("<sks>"), s.method->delta().at("<sks>")));
}

// ---- run()'s steps, one at a time ----------------------------------------------

BOOST_AUTO_TEST_CASE(draw_batch_is_a_function_of_the_generator) {
  Setup s(kTextualInversion);
  TrainOptions t = small_train(2);
  t.batch_size = 3;
  t.flip = true;
  Trainer trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7);
  auto gen = [] { return at::make_generator<at::CPUGeneratorImpl>(11); };
  torch::Generator g1 = gen(), g2 = gen();
  TrainingBatch a = trainer.draw_batch(g1), b = trainer.draw_batch(g2);
  BOOST_TEST(a.latents.size(0) == 3);
  BOOST_TEST((a.latents.sizes() == a.noise.sizes()));
  BOOST_TEST(a.timesteps.size(0) == 3);
  BOOST_TEST(a.context.size(0) == 3);
  BOOST_TEST(torch::equal(a.latents, b.latents));
  BOOST_TEST(torch::equal(a.timesteps, b.timesteps));
  BOOST_TEST(torch::equal(a.context, b.context));
  BOOST_TEST(a.timesteps.min().item<int64_t>() >= 0);
  BOOST_TEST(a.timesteps.max().item<int64_t>() < s.pipeline.scheduler.num_train_timesteps);
  TrainingBatch c = trainer.draw_batch(g1);  // the stream moved on
  BOOST_TEST(!torch::equal(a.noise, c.noise));
}

BOOST_AUTO_TEST_CASE(accumulate_gradients_reaches_only_the_methods_tensors) {
  Setup s(kTextualInversion);
  TrainOptions t = small_train(1);
  t.grad_accum = 2;
  Trainer trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7);
  Trainer::Optimization opt = trainer.make_optimizer();
  BOOST_REQUIRE(!opt.params.empty());
  clear_gradients(opt.params);
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const double loss = trainer.accumulate_gradients(1, gen);
  BOOST_TEST(std::isfinite(loss));
  BOOST_TEST(loss > 0.0);
  for (const auto& p : opt.params) BOOST_TEST(p.grad().defined());
  for (const auto& p : s.pipeline.unet->parameters()) BOOST_TEST(!p.grad().defined());  // the UNet is frozen
  // The schedule's factor scales every group's base rate.
  opt.set_lr_factor(0.5);
  for (size_t i = 0; i < opt.base_lrs.size(); ++i)
    BOOST_TEST(static_cast<torch::optim::AdamWOptions&>(opt.optimizer->param_groups()[i].options()).lr() ==
               opt.base_lrs[i] * 0.5);
}
