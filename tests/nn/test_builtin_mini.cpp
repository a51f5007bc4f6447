// builtin:mini, the mini world's pretrained Stable Diffusion (issue 36):
//   - it draws the colour the prompt names: short DDIM samples of ten
//     captions (one per colour), classified by the metric CLIP
//     (builtin:mini-clip), get the named colour; the same pipeline with random
//     UNet weights does not (so this fails when the shipped UNet is missing,
//     broken or untrained);
//   - `pbench export builtin:mini DIR` writes a diffusers folder that loads
//     back (model.path=DIR) and samples the same images bit for bit, and
//     carries its image encoder;
//   - its image encoder (the pipeline CLIP's vision tower, DisenBooth's
//     `image_encoder: pipeline`) embeds at the UNet's width and sees the world:
//     held-out renders find a render of their own colour as nearest neighbour
//     far more often than with random weights.
// The full held-out evaluation (200 captions, 50 steps) is the unet stage's
// (docs/mini_world.md); this is its seconds-long CI form.
#define BOOST_TEST_MODULE builtin_mini
#include <boost/test/unit_test.hpp>

#include "datasets/mini_world_scene.hpp"
#include "framework/models/deterministic_init.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/models/sd/image_encoder.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"
#include "framework/workloads/pretrain/prompt_following.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/world_probes.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
namespace fs = std::filesystem;

namespace {

// Measured with the shipped weights: 0.6 (random UNet: 0.1); two flipped images of margin.
constexpr double kColourThreshold = 0.4;
// Nearest-neighbour colour retrieval of 200 held-out renders by the shipped image encoder:
// measured 0.735 (the same architecture with random weights: 0.435, colour being raw pixel
// statistics); the threshold sits between, 0.135 under the trained figure.
constexpr double kImageEncoderColourThreshold = 0.6;

// Ten training-vocabulary scenes, one per colour, plain, named in full
// (class and background vary with the colour; every triple is a training one).
std::vector<mini::MiniScene> scenes() {
  std::vector<mini::MiniScene> out;
  for (int c = 0; c < mini::kColours; ++c) {
    mini::MiniScene s;
    s.colour = mini::Colour(c);
    s.shape = mini::Shape((3 * c + 1) % mini::kShapes);
    s.background = mini::Background((7 * c + 2) % mini::kBackgrounds);
    if (mini::is_held_out(s.shape, s.colour, s.background)) s.background = mini::Background((7 * c + 3) % mini::kBackgrounds);
    out.push_back(s);
  }
  return out;
}

// Samples of the first `count` scenes' captions (20 DDIM steps, guidance 5).
sample::SampleSet draw(models::Pipeline& pipeline, size_t count) {
  std::vector<std::string> prompts;
  for (const auto& s : scenes()) prompts.push_back(mini::caption(s));
  prompts.resize(count);
  sample::SamplingOptions options;
  options.num_inference_steps = 20;
  options.guidance_scale = 5.0;
  options.batch_size = 10;
  return sample::sample_images(pipeline, sample::grid_jobs(prompts, 1), 3, options);
}

// Also leaves the samples in the test's scratch folder (<name>.png), to look at.
double colour_accuracy(models::Pipeline& pipeline, const std::string& name) {
  static const models::ClipBackbone clip = models::load_clip_backbone(models::kBuiltinMiniClip);
  static const fs::path scratch = test::scratch_dir("builtin_mini");
  const torch::Tensor images = draw(pipeline, scenes().size()).images;
  pretrain::write_image_grid(scratch / (name + ".png"), images, 5);
  return pretrain::clip_zero_shot(clip, scenes(), images).colour_accuracy;
}

}  // namespace

BOOST_AUTO_TEST_CASE(builtin_mini_draws_the_colour_the_prompt_names) {
  models::Pipeline trained = models::load_pipeline(models::kBuiltinMini);
  BOOST_TEST(!trained.builtin);
  BOOST_TEST(trained.resolution == 64);
  const double accuracy = colour_accuracy(trained, "trained");
  BOOST_TEST_MESSAGE("builtin:mini colour accuracy on 10 captions: " << accuracy);
  BOOST_TEST(accuracy >= kColourThreshold);

  // Control: the same pipeline with a random UNet draws no named colour.
  models::Pipeline random = models::load_pipeline(models::kBuiltinMini);
  models::deterministic_init(*random.unet, derive_seed(0, "test/builtin_mini/random_unet"), "random unet");
  const double control = colour_accuracy(random, "random_unet");
  BOOST_TEST_MESSAGE("random UNet colour accuracy: " << control);
  BOOST_TEST(control < kColourThreshold);
}

BOOST_AUTO_TEST_CASE(builtin_mini_exports_to_a_diffusers_folder_that_samples_the_same) {
  const fs::path dir = test::scratch_dir("export_mini");
  BOOST_TEST((models::export_model(models::kBuiltinMini, dir) == models::ExportKind::kPipeline));
  models::Pipeline original = models::load_pipeline(models::kBuiltinMini);
  models::Pipeline loaded = models::load_pipeline(dir.string());
  BOOST_TEST(loaded.source == dir.string());
  BOOST_TEST(torch::equal(draw(original, 2).images, draw(loaded, 2).images));
  // The image encoder travels with it: `image_encoder: pipeline` reads the same tower there.
  const torch::Tensor pixels = torch::rand({2, 3, 64, 64}) * 2 - 1;
  BOOST_TEST(torch::equal(models::load_image_encoder("pipeline", original).encode(pixels, true),
                          models::load_image_encoder("pipeline", loaded).encode(pixels, true)));
}

BOOST_AUTO_TEST_CASE(builtin_minis_image_encoder_sees_the_colour_of_held_out_renders) {
  models::Pipeline mini = models::load_pipeline(models::kBuiltinMini);
  const models::ImageEncoder trained = models::load_image_encoder("pipeline", mini);
  BOOST_TEST(trained.embed_dim() == mini.unet->config().cross_attention_dim.front());
  const pretrain::ScenePool pool = pretrain::render_pool(derive_seed(0, "test/image_encoder"), 200, 64, true);
  std::vector<int64_t> colour;
  for (const auto& scene : pool.scenes) colour.push_back(int64_t(scene.colour));
  const torch::Tensor pixels = pretrain::pool_images_signed(pool, torch::arange(pool.size()));
  models::ImageEncoder random = trained;
  random.vision = models::ClipVisionModel(trained.vision->config);
  models::deterministic_init(*random.vision, derive_seed(0, "test/random image encoder"), "test");
  const double hit = pretrain::nearest_neighbour_retrieval(trained.encode(pixels, true), colour);
  const double random_hit = pretrain::nearest_neighbour_retrieval(random.encode(pixels, true), colour);
  BOOST_TEST_MESSAGE("colour retrieval: trained " << hit << ", random weights " << random_hit);
  BOOST_TEST(hit > kImageEncoderColourThreshold);
  BOOST_TEST(random_hit < kImageEncoderColourThreshold);
}

BOOST_AUTO_TEST_CASE(unknown_builtin_pipeline_names_the_known_ones) {
  try {
    models::load_pipeline("builtin:mega");
    BOOST_FAIL("builtin:mega loaded");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("builtin:mini") != std::string::npos);
  }
}
