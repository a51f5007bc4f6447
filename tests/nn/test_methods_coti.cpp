#define BOOST_TEST_MODULE methods_coti
// COTI (arXiv 2304.05265): the method contract; the engine's weighted loss of an actively grown
// training set against the formula written out here (a test method adds two images with known
// weights); COTI before its first query is Textual Inversion bit for bit and then grows its set
// by queries_per_cycle at each cycle's first step; its scorers on synthetic features; and on the
// mini world, that the images it selects share the subject's colour far more often than chance
// and are degraded less often than the pool's third.
#include <boost/test/unit_test.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <sstream>

#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_scene.hpp"
#include "datasets/mini_world_subjects.hpp"
#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/models/schedulers/noise_schedule.hpp"
#include "framework/train/active_training_set.hpp"
#include "methods/coti_scorers.hpp"
#include "methods/textual_inversion.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

SubjectData builtin_subject(const models::Pipeline& p) {
  cfg::Node ds = cfg::parse_yaml_text("name: builtin\nsubject: red_cube\nunique_token: sks\nnum_images: 3\nnum_eval_prompts: 2\n",
                                      {"test", 0});
  const auto& entry = datasets().get("builtin", "test");
  return entry.factory.load(cfg::with_defaults(ds, entry.info.defaults), int(p.resolution), {});
}

std::unique_ptr<Method> make_method(const std::string& yaml) {
  cfg::Node s = method_yaml(yaml);
  const auto& entry = methods().get(cfg::get_string(s, "name"), "test");
  return entry.factory.create(cfg::with_defaults(s, entry.info.defaults));
}

TrainOptions few_steps(int64_t steps) {
  TrainOptions t;
  t.steps = steps;
  t.batch_size = 2;
  t.lr = 1e-3;
  return t;
}

// Textual Inversion that adds two fixed images at step 1, weighted 0 and 0.5.
class AddsTwoImages : public TextualInversion, public ActiveTrainingSet {
 public:
  AddsTwoImages() : TextualInversion("<sks>", "dog", 1, 5e-3, "adds_two_images") {}
  TrainingSetAddition images_to_add(int64_t step, int64_t) override {
    if (step != 1) return {};
    torch::Generator gen = at::detail::createCPUGenerator(5);
    return {torch::rand({2, 3, side, side}, gen) * 2 - 1, torch::tensor({0.0f, 0.5f}), {"a", "b"}, "two images"};
  }
  int64_t side = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(contract) {
  // Without a subject (counting, the kit's driver) COTI attaches Textual Inversion's tokens alone.
  check_method_contract("name: coti\nnum_vectors: 2\ninit_word: dog\n");
}

BOOST_AUTO_TEST_CASE(added_images_weigh_their_loss_and_the_subjects_weigh_one) {
  models::Pipeline p = small_pipeline();
  const SubjectData subject = builtin_subject(p);
  AddsTwoImages method;
  method.side = p.resolution;
  MethodTarget target{p, &subject};
  method.attach(target);
  TrainOptions t = few_steps(1);
  t.batch_size = 8;
  Trainer trainer(p, method, subject, t, DvarOptions{}, 3);
  std::ostringstream log;
  TrainCallbacks cb;
  cb.log = &log;
  {
    torch::Generator before = at::detail::createCPUGenerator(9);
    BOOST_TEST(!trainer.draw_batch(before).sample_weight.defined());  // plain MSE until an image is added
  }
  trainer.grow_training_set(1, cb);
  BOOST_TEST(log.str().find("two images") != std::string::npos);

  // Every row's weight is its image's: 1 for the subject's 3, 0 and 0.5 for the added (rows -1).
  torch::Generator gen = at::detail::createCPUGenerator(9);
  int added_rows = 0;
  for (int i = 0; i < 6; ++i) {
    const TrainingBatch b = trainer.draw_batch(gen);
    BOOST_REQUIRE(b.sample_weight.defined());
    for (int64_t r = 0; r < b.sample_weight.size(0); ++r) {
      const float w = b.sample_weight[r].item<float>();
      if (b.images.index[r].item<int64_t>() >= 0) {
        BOOST_TEST(w == 1.0f);
      } else {
        ++added_rows;
        BOOST_TEST((w == 0.0f || w == 0.5f));
      }
    }
  }
  BOOST_TEST(added_rows > 0);

  // The step's loss is the batch mean of w_i x row i's MSE (the same draw from the same seed).
  torch::Generator g1 = at::detail::createCPUGenerator(21), g2 = at::detail::createCPUGenerator(21);
  const TrainingBatch b = trainer.draw_batch(g1);
  double expected = 0.0;
  {
    torch::NoGradGuard no_grad;
    sched::NoiseSchedule schedule(p.scheduler);
    const torch::Tensor pred = p.unet->forward(schedule.add_noise(b.latents, b.noise, b.timesteps), b.timesteps, b.context);
    expected = ((pred - b.noise).pow(2).mean({1, 2, 3}) * b.sample_weight).mean().item<double>();
  }
  const double loss = trainer.accumulate_gradients(1, g2);
  BOOST_TEST(loss == expected, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(before_its_first_query_coti_is_textual_inversion_then_each_cycle_adds_its_queries) {
  // Two cycles over 4 steps: steps 1-2 train on the subject alone, step 3 queries.
  auto run = [](const std::string& yaml, int64_t stop_after, std::string* log_text) {
    models::Pipeline p = small_pipeline();
    const SubjectData subject = builtin_subject(p);
    std::unique_ptr<Method> m = make_method(yaml);
    MethodTarget target{p, &subject};
    m->attach(target);
    Trainer trainer(p, *m, subject, few_steps(4), DvarOptions{}, 11);
    std::ostringstream log;
    TrainCallbacks cb;
    cb.log = &log;
    cb.after_update = [stop_after](int64_t step) { return step >= stop_after; };
    TrainResult result = trainer.run(cb);
    BOOST_TEST(std::isfinite(result.last_loss));
    if (log_text) *log_text = log.str();
    return m->delta().at("<sks>").clone();
  };
  const std::string coti = "name: coti\nnum_vectors: 2\ninit_word: dog\nlr: 5.0e-3\ncycles: 2\nqueries_per_cycle: 3\npool_size: 12\n";
  const torch::Tensor ti = run("name: textual_inversion\nnum_vectors: 2\ninit_word: dog\nlr: 5.0e-3\n", 2, nullptr);
  BOOST_TEST(torch::equal(run(coti, 2, nullptr), ti));
  std::string log;
  const torch::Tensor after = run(coti, 4, &log);
  BOOST_TEST(log.find("[train] step 3: COTI cycle 2/2: +3 pool images") != std::string::npos, log);
  BOOST_TEST(log.find("step 2: COTI") == std::string::npos);
  BOOST_TEST(!torch::equal(after, ti));
}

BOOST_AUTO_TEST_CASE(the_relevance_head_separates_the_concept_and_the_quality_head_fits_its_labels) {
  torch::Generator gen = at::detail::createCPUGenerator(4);
  const int64_t d = 16;
  const torch::Tensor direction = torch::randn({d}, gen);
  auto cluster = [&](int64_t n, double sign) {
    return torch::nn::functional::normalize(torch::randn({n, d}, gen) * 0.5 + sign * direction,
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  };
  coti::RelevanceScorer relevance(d, gen);
  relevance.fit(cluster(5, 1), torch::ones({5}), cluster(200, -1), 200, 3e-4);
  BOOST_TEST(relevance.score(cluster(50, 1)).mean().item<double>() > 0.8);
  BOOST_TEST(relevance.score(cluster(50, -1)).mean().item<double>() < 0.2);

  // Labels 10·(1 − s) of features that carry s along one axis: the head's predictions follow them.
  const torch::Tensor s = torch::rand({256}, gen);
  const torch::Tensor features = torch::cat({s.unsqueeze(1), torch::randn({256, d - 1}, gen) * 0.1}, 1);
  coti::QualityScorer quality(d, gen);
  quality.fit(features, 10.0 * (1.0 - s), 300, 1e-3);
  const torch::Tensor predicted = quality.score(features);
  const double corr = torch::corrcoef(torch::stack({predicted, 1.0 - s})).index({0, 1}).item<double>();
  BOOST_TEST(corr > 0.85, "correlation " << corr);  // measured 0.91
  BOOST_TEST((predicted >= 0).all().item<bool>());
  BOOST_TEST((predicted <= 10).all().item<bool>());
}

BOOST_AUTO_TEST_CASE(degrading_at_strength_zero_is_the_identity) {
  torch::Generator gen = at::detail::createCPUGenerator(8);
  const torch::Tensor x = torch::rand({3, 3, 16, 16}, gen) * 2 - 1;
  const torch::Tensor out = coti::degrade(x, torch::tensor({0.0f, 0.5f, 1.0f}), gen);
  BOOST_TEST(torch::equal(out[0], x[0]));
  BOOST_TEST(!torch::equal(out[1], x[1]));
  BOOST_TEST((out.abs() <= 1).all().item<bool>());
  // Stronger degradation moves the image further.
  BOOST_TEST((out[2] - x[2]).abs().mean().item<double>() > (out[1] - x[1]).abs().mean().item<double>());
}

BOOST_AUTO_TEST_CASE(on_the_mini_world_the_selection_finds_the_subjects_other_images_and_passes_over_degraded_ones) {
  // A pool as the paper's web crawl would be for a concept: 20 more renders of the subject (new
  // backgrounds and poses), 10 of them again degraded, and 180 renders of the rest of the world,
  // as PNG files in a folder. builtin:mini's own CLIP vision tower reads them; 3 queries of 10.
  models::Pipeline p = models::load_pipeline(models::kBuiltinMini);
  const mini::MiniSubject& look = mini::mini_subjects().front();  // red_white_striped_cube
  cfg::Node ds = cfg::parse_yaml_text("name: mini_world\nsubject: " + look.name + "\nunique_token: sks\n", {"test", 0});
  const auto& dataset = datasets().get("mini_world", "test");
  const SubjectData subject = dataset.factory.load(cfg::with_defaults(ds, dataset.info.defaults), int(p.resolution), {});
  const std::filesystem::path pool = scratch_dir("coti_pool");
  std::filesystem::remove_all(pool);
  std::filesystem::create_directories(pool);
  const int side = int(p.resolution);
  std::vector<Image> concept;
  for (int i = 5; i < 25; ++i) concept.push_back(mini::render_scene(mini::subject_scene(look, i), side));
  torch::Generator gen = at::detail::createCPUGenerator(3);
  const torch::Tensor degraded = coti::degrade(images_to_tensor(concept), torch::full({20}, 0.8), gen);
  const torch::Tensor degraded_u8 = ((degraded.permute({0, 2, 3, 1}) + 1) * 127.5).round().clamp(0, 255).to(torch::kUInt8);
  char name[64];
  for (int i = 0; i < 20; ++i) {
    std::snprintf(name, sizeof name, "%s_%02d.png", i < 10 ? "concept" : "degraded", i);
    write_png(pool / name, i < 10 ? concept[size_t(i)] : image_at(degraded_u8.contiguous(), i));
  }
  for (int i = 0; i < 180; ++i) {
    std::snprintf(name, sizeof name, "world_%03d.png", i);
    write_png(pool / name, mini::render_scene(mini::sample_training_scene(mini::item_seed(77, uint64_t(i))), side));
  }
  struct Picks {
    int picked = 0, concept = 0, degraded = 0;
    double concept_weight = 0, degraded_weight = 0;  // means over the picks of each kind
  };
  auto select = [&](const std::string& extra) {
    std::unique_ptr<Method> m = make_method("name: coti\npool: " + pool.string() + "\ncycles: 4\nqueries_per_cycle: 10\n" + extra + "\n");
    models::Pipeline fresh = models::load_pipeline(models::kBuiltinMini);  // one method per pipeline
    MethodTarget target{fresh, &subject, method_init_generator(1)};
    m->attach(target);
    auto* active = dynamic_cast<ActiveTrainingSet*>(m.get());
    BOOST_REQUIRE(active);
    Picks picks;
    for (int64_t step = 1; step <= 100; ++step) {
      TrainingSetAddition add = active->images_to_add(step, 100);
      if (!add.pixels.defined()) continue;
      BOOST_TEST(add.pixels.size(0) == 10);
      BOOST_TEST((add.weights >= 0).all().item<bool>());
      BOOST_TEST((add.weights <= 1).all().item<bool>());
      for (size_t j = 0; j < add.sources.size(); ++j) {
        ++picks.picked;
        const double w = add.weights[int64_t(j)].item<double>();
        if (add.sources[j].find("concept_") != std::string::npos) ++picks.concept, picks.concept_weight += w;
        if (add.sources[j].find("degraded_") != std::string::npos) ++picks.degraded, picks.degraded_weight += w;
      }
    }
    picks.concept_weight /= std::max(1, picks.concept);
    picks.degraded_weight /= std::max(1, picks.degraded);
    BOOST_TEST_MESSAGE("COTI on the mini world (" << (extra.empty() ? "defaults" : extra) << "): " << picks.concept
                       << "/10 clean and " << picks.degraded << "/10 degraded images of the subject among "
                       << picks.picked << " picks from 200; mean weight " << picks.concept_weight << " and "
                       << picks.degraded_weight);
    return picks;
  };
  // Relevance alone finds the concept, degraded or not; with the quality score (the default) the
  // degraded copies are taken less often and weigh less. Chance: 1.5 of each kind in 30 picks.
  const Picks relevance_only = select("quality_weight: 0.0"), both = select("");
  BOOST_TEST(relevance_only.picked == 30);  // cycles 2, 3 and 4
  BOOST_TEST(both.picked == 30);
  BOOST_TEST(relevance_only.concept >= 8);
  BOOST_TEST(relevance_only.degraded >= 7);
  BOOST_TEST(both.concept >= 7);
  BOOST_TEST(both.degraded <= relevance_only.degraded - 2);
  BOOST_TEST(both.degraded_weight < 0.8 * both.concept_weight);
}
