// The pretraining plumbing of `pbench pretrain` (framework/workloads/pretrain):
// a stage stopped by its time budget and resumed, any number of times, ends
// with exactly the weights and loss curve of an uninterrupted run; the scene
// pools are pure functions of their seed and respect the held-out split;
// recipes come from the defaults, a file and overrides, bad keys are refused,
// and the shipped recipe files say what the defaults say; crops are a pure
// function of the generator.
#define BOOST_TEST_MODULE pretrain_loop
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "framework/config/yaml_io.hpp"

#include "framework/workloads/pretrain/crops.hpp"
#include "framework/workloads/pretrain/pretrain_context.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/stage_loop.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
using namespace pbench::pretrain;

namespace {

struct Regression : torch::nn::Module {
  Regression() { layer = register_module("layer", torch::nn::Linear(4, 2)); }
  torch::nn::Linear layer{nullptr};
};

// A least-squares fit on batches drawn from the step's generator, so the
// result depends on every step's randomness and on the optimizer's moments.
struct Fit {
  Regression model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  StageSettings settings;
  explicit Fit(const std::filesystem::path& checkpoint) {
    torch::manual_seed(7);
    model.layer->reset_parameters();
    settings.name = "fit";
    settings.steps = 6;
    settings.warmup_steps = 2;
    settings.learning_rate = 0.05;
    settings.checkpoint_every = 100;  // only the end and the budget write one
    settings.checkpoint = checkpoint;
    optimizer = make_adamw(model.parameters(), settings);
  }
  StageProgress run() {
    return run_stage(settings, 3, model, *optimizer, [this](int64_t, torch::Generator& generator) {
      const torch::Tensor x = torch::randn({8, 4}, generator);
      const torch::Tensor y = x.matmul(torch::tensor({{1.0f, -2.0f}, {0.5f, 0.0f}, {0.0f, 1.0f}, {3.0f, 1.0f}}));
      return (model.layer->forward(x) - y).pow(2).mean();
    });
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_stage_resumed_after_every_step_matches_an_uninterrupted_one) {
  const auto dir = test::scratch_dir("pretrain_loop/resume");
  Fit whole(dir / "whole.pt");
  const StageProgress uninterrupted = whole.run();
  BOOST_TEST(int(uninterrupted.outcome) == int(StageOutcome::kFinished));
  BOOST_TEST(uninterrupted.curve.size() == 6u);

  int calls = 0;
  StageOutcome outcome = StageOutcome::kOutOfTime;
  while (outcome == StageOutcome::kOutOfTime) {
    Fit piece(dir / "pieces.pt");  // a fresh process: new module, new optimizer, same checkpoint
    piece.settings.deadline = std::chrono::steady_clock::now();  // already past: one step, then stop
    const StageProgress progress = piece.run();
    outcome = progress.outcome;
    ++calls;
    BOOST_TEST(progress.steps_done == calls);
    if (outcome == StageOutcome::kFinished) {
      BOOST_TEST(torch::equal(piece.model.layer->weight, whole.model.layer->weight));
      BOOST_TEST(torch::equal(piece.model.layer->bias, whole.model.layer->bias));
      // The loss curve survives the checkpoints: the same points as in one piece.
      BOOST_REQUIRE(progress.curve.size() == uninterrupted.curve.size());
      for (size_t i = 0; i < progress.curve.size(); ++i) {
        BOOST_TEST(progress.curve[i].step == uninterrupted.curve[i].step);
        BOOST_TEST(progress.curve[i].loss == uninterrupted.curve[i].loss);
        BOOST_TEST(progress.curve[i].learning_rate == uninterrupted.curve[i].learning_rate);
      }
    }
    BOOST_REQUIRE(calls <= 6);
  }
  BOOST_TEST(calls == 6);

  Fit fresh(dir / "none.pt");
  BOOST_TEST(!torch::equal(fresh.model.layer->weight, whole.model.layer->weight));  // training moved the weights
}

BOOST_AUTO_TEST_CASE(a_checkpoint_of_another_model_is_refused_with_the_file_named) {
  const auto dir = test::scratch_dir("pretrain_loop/mismatch");
  {
    torch::nn::Linear other(3, 3);
    torch::serialize::OutputArchive archive, model_archive;
    other->save(model_archive);
    archive.write("step", torch::tensor(int64_t(1)));
    archive.write("state", model_archive);
    archive.save_to((dir / "fit.pt").string());
  }
  Fit fit(dir / "fit.pt");
  BOOST_CHECK_EXCEPTION(fit.run(), InputError, [&](const InputError& e) {
    return std::string(e.what()).find((dir / "fit.pt").string()) != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(scene_pools_are_pure_functions_of_their_seed_and_keep_the_split) {
  const ScenePool a = render_pool(11, 6, 32, false), b = render_pool(11, 6, 32, false);
  BOOST_TEST(torch::equal(a.images_u8, b.images_u8));
  BOOST_TEST(a.captions == b.captions);
  BOOST_TEST(!torch::equal(a.images_u8, render_pool(12, 6, 32, false).images_u8));
  for (const auto& s : a.scenes) BOOST_TEST(!mini::is_held_out(s.shape, s.colour, s.background));
  for (const auto& s : render_pool(11, 6, 32, true).scenes) BOOST_TEST(mini::is_held_out(s.shape, s.colour, s.background));

  const torch::Tensor signed_images = pool_images_signed(a, torch::tensor({4, 1}));
  BOOST_TEST((signed_images.sizes() == torch::IntArrayRef{2, 3, 32, 32}));
  BOOST_TEST(signed_images.min().item<float>() >= -1.0f);
  BOOST_TEST(signed_images.max().item<float>() <= 1.0f);
  const torch::Tensor back = ((signed_images[1].permute({1, 2, 0}) + 1) * 127.5).round().to(torch::kUInt8);
  BOOST_TEST(torch::equal(back, a.images_u8[1]));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_is_written_once_its_time_interval_has_passed) {
  const auto dir = test::scratch_dir("pretrain_loop/interval");
  Fit fit(dir / "fit.pt");
  fit.settings.checkpoint_seconds = 0.0;  // every step is due
  fit.settings.steps = 3;
  std::vector<int64_t> seen;
  run_stage(fit.settings, 3, fit.model, *fit.optimizer,
            [&](int64_t step, torch::Generator& generator) {
              // The checkpoint on disk is the previous step's (written after each step).
              if (step > 1) {
                torch::serialize::InputArchive archive;
                archive.load_from((dir / "fit.pt").string());
                torch::Tensor done;
                archive.read("step", done);
                seen.push_back(done.item<int64_t>());
              }
              const torch::Tensor x = torch::randn({8, 4}, generator);
              return fit.model.layer->forward(x).pow(2).mean();
            });
  BOOST_TEST(seen == (std::vector<int64_t>{1, 2}));
}

namespace {

cfg::Node vae_defaults() { return cfg::options_node<VaeRecipe>(); }

}  // namespace

BOOST_AUTO_TEST_CASE(a_recipe_is_the_defaults_then_the_file_then_the_overrides) {
  const auto dir = test::scratch_dir("pretrain_loop/recipe");
  {
    std::ofstream f(dir / "vae.yaml");
    f << "steps: 40\nbatch: 4\n";
  }
  RecipeInput input;
  input.file = dir / "vae.yaml";
  input.overrides = {"batch=8", "kl_weight=0.5"};
  const cfg::Node node = compose_recipe(vae_defaults(), input, "vae");
  const VaeRecipe r = cfg::read_options<VaeRecipe>(node, "vae");
  BOOST_TEST(r.steps == 40);          // file
  BOOST_TEST(r.batch == 8);           // override wins over the file
  BOOST_TEST(r.kl_weight == 0.5);     // override
  BOOST_TEST(r.pool_size == VaeRecipe().pool_size);  // default
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_bad_values_are_refused_naming_the_place) {
  const auto dir = test::scratch_dir("pretrain_loop/recipe_bad");
  {
    std::ofstream f(dir / "bad.yaml");
    f << "steps: 40\nstpes: 4\n";
  }
  const auto message_of = [](const RecipeInput& input) {
    try {
      cfg::read_options<VaeRecipe>(compose_recipe(vae_defaults(), input, "vae"), "vae");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  RecipeInput file_input;
  file_input.file = dir / "bad.yaml";
  const std::string file_message = message_of(file_input);
  BOOST_TEST(file_message.find("bad.yaml:2") != std::string::npos, file_message);
  BOOST_TEST(file_message.find("stpes") != std::string::npos, file_message);
  BOOST_TEST(file_message.find("kl_weight") != std::string::npos, file_message);  // lists the keys

  RecipeInput override_input;
  override_input.overrides = {"batchsize=3"};
  BOOST_TEST(message_of(override_input).find("batchsize") != std::string::npos);
  override_input.overrides = {"batch=1"};  // below the minimum of 2
  BOOST_TEST(message_of(override_input).find("vae.batch") != std::string::npos, message_of(override_input));
  override_input.overrides = {"steps=1,2"};  // a sweep is not a recipe
  BOOST_TEST(message_of(override_input).find("one value") != std::string::npos);
}

template <class Recipe>
void check_shipped_recipe(const std::string& component) {
  const std::filesystem::path file = test::source_dir() / "experiments" / "pretrain" / (component + ".yaml");
  BOOST_TEST_CONTEXT(file.string()) {
    RecipeInput input;
    input.file = file;
    const cfg::Node from_file = compose_recipe(cfg::options_node<Recipe>(), input, component);
    BOOST_TEST((from_file == cfg::options_node<Recipe>()), "the file differs from the recipe's defaults");
    // And the file names every key (it is the recipe written out).
    const cfg::Node file_only = cfg::load_yaml_file(file, file.string());
    BOOST_TEST(file_only.size() == cfg::options_node<Recipe>().size());
  }
}

BOOST_AUTO_TEST_CASE(the_shipped_recipe_files_are_the_defaults) {
  check_shipped_recipe<VaeRecipe>("vae");
  check_shipped_recipe<ClipRecipe>("clip");
  check_shipped_recipe<MetricClipRecipe>("metric-clip");
  check_shipped_recipe<DinoRecipe>("dino");
  check_shipped_recipe<UnetRecipe>("unet");
}

BOOST_AUTO_TEST_CASE(crops_are_a_function_of_the_generator_and_a_full_crop_is_a_flip_or_nothing) {
  const torch::Tensor images = torch::rand({6, 3, 16, 16});
  torch::Generator a = at::detail::createCPUGenerator(5), b = at::detail::createCPUGenerator(5);
  const CropOptions options{8, 0.2, 0.6, 0.5};
  const torch::Tensor first = random_resized_crops(images, options, a);
  BOOST_TEST((first.sizes() == torch::IntArrayRef{6, 3, 8, 8}));
  BOOST_TEST(torch::equal(first, random_resized_crops(images, options, b)));

  torch::Generator c = at::detail::createCPUGenerator(9);
  const torch::Tensor whole = random_resized_crops(images, CropOptions{16, 1.0, 1.0, 0.5}, c);
  for (int64_t i = 0; i < 6; ++i) {
    const bool same = torch::allclose(whole[i], images[i], 1e-5, 1e-5);
    const bool flipped = torch::allclose(whole[i], images[i].flip({2}), 1e-5, 1e-5);
    BOOST_TEST((same || flipped), "image " << i << " is neither itself nor its mirror image");
  }
}
