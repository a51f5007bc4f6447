// DVAR in the training loop on builtin:tiny, against yandex-research/DVAR:
// the objective is evaluated before each optimizer step, every `every` steps
// counted from the first, and the step that fires still takes its update.
#define BOOST_TEST_MODULE trainer_steps
#include <boost/test/unit_test.hpp>

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
  t.schedule.total_steps = steps;
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
