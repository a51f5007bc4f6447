#define BOOST_TEST_MODULE methods_sine
// SINE (arXiv 2212.04489) on builtin:tiny: the method contract; its patch crops and the
// sinusoidal encoding of a patch's place against their formulas written out here; the encoding
// reaching conv_in for a training pass only; the refusal of an image the subject lacks; and the
// model-based guidance of its edit: the step's ε against the formula, and the sampler's limits
// (β = 1 or an empty range is the frozen model alone; a tuned model changes the edit only inside
// its range).
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/sample/model_guidance.hpp"
#include "framework/train/patch_crop.hpp"
#include "methods/patch_position_encoding.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

BOOST_AUTO_TEST_CASE(contract) {
  ContractOptions options;
  options.attach_subject = true;
  options.lr_scale = 1e3;  // the paper's 1e-6 on a random tiny UNet barely moves a float
  check_method_contract("name: sine\n", options);
  // The patch model adds its position grid from the first step on (UNetModelPatch starts from the
  // pretrained weights with the encoding already in): attaching changes the output by design.
  options.identity_at_init = false;
  check_method_contract("name: sine\npatch: true\n", options);
}

BOOST_AUTO_TEST_CASE(the_position_grid_is_the_two_axis_sinusoid_centred_at_center_shift) {
  const int64_t channels = 16, side = 6, shift = 100;
  const torch::Tensor grid = peft::patch_position_grid(channels, side, shift);
  BOOST_REQUIRE(grid.sizes() == torch::IntArrayRef({channels, side, side}));
  const int64_t per_axis = channels / 2, half = per_axis / 2;
  // Cell i (0-based) sits at position i + 1 + (shift − side/2): the centre cell (3) at 101.
  auto expected = [&](int64_t c, int64_t y, int64_t x) {
    const bool x_axis = c < per_axis;
    const int64_t k = (x_axis ? c : c - per_axis) % half;
    const bool cosine = (x_axis ? c : c - per_axis) >= half;
    const double p = double((x_axis ? x : y) + 1 + shift - side / 2);
    const double w = std::exp(-double(k) * std::log(1e4) / double(half - 1));
    return cosine ? std::cos(p * w) : std::sin(p * w);
  };
  double worst = 0;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x)
        worst = std::max(worst, std::abs(grid[c][y][x].item<double>() - expected(c, y, x)));
  BOOST_TEST(worst < 1e-6);
  BOOST_CHECK_THROW(peft::patch_position_grid(6, side, shift), std::invalid_argument);  // not a multiple of 4
}

BOOST_AUTO_TEST_CASE(the_encoding_adds_the_boxs_part_of_the_grid_resized_to_the_feature_map) {
  peft::PatchPositionEncoding pe(8, 4, 100);
  const torch::Tensor grid = peft::patch_position_grid(8, 4, 100);
  const torch::Tensor out = torch::randn({2, 8, 4, 4});
  // No box: the whole grid (same size: bilinear with aligned corners is the identity).
  BOOST_TEST(torch::allclose(pe.output({}, out), out + grid.unsqueeze(0), 1e-6, 1e-6));
  // A 2×2 box per row, on a 2×2 map: exactly those cells.
  pe.set_boxes({CropBox{0, 0, 2, 2}, CropBox{2, 1, 4, 3}});
  const torch::Tensor small = torch::zeros({2, 8, 2, 2});
  const torch::Tensor got = pe.output({}, small);
  BOOST_TEST(torch::allclose(got[0], grid.slice(1, 0, 2).slice(2, 0, 2), 1e-6, 1e-6));
  BOOST_TEST(torch::allclose(got[1], grid.slice(1, 2, 4).slice(2, 1, 3), 1e-6, 1e-6));
  // A one-cell box fills the map with that cell's code.
  pe.set_boxes({CropBox{1, 2, 2, 3}});
  const torch::Tensor one = pe.output({}, torch::zeros({1, 8, 3, 3}));
  BOOST_TEST(torch::allclose(one[0], grid.slice(1, 1, 2).slice(2, 2, 3).expand({8, 3, 3}), 1e-6, 1e-6));
  pe.set_boxes({CropBox{0, 0, 5, 1}});
  BOOST_CHECK_THROW(pe.output({}, small), std::logic_error);  // outside the grid
}

BOOST_AUTO_TEST_CASE(patch_crops_follow_the_references_draw) {
  const torch::Tensor image = torch::linspace(-1, 1, 3 * 32 * 32).view({3, 32, 32});
  // A fixed box: the pixels of its cells, resized to the image's side.
  const PatchCrop fixed = crop_patch(image, CropBox{1, 2, 3, 4}, 8);
  const torch::Tensor region = image.slice(1, 8, 24).slice(2, 16, 32);
  const torch::Tensor resized = torch::nn::functional::interpolate(
      region.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{32, 32})
                               .mode(torch::kBilinear)
                               .align_corners(false))[0];
  BOOST_TEST(torch::allclose(fixed.pixels, resized));
  BOOST_CHECK_THROW(crop_patch(image, CropBox{0, 0, 5, 1}, 8), std::invalid_argument);
  BOOST_CHECK_THROW(crop_patch(image, CropBox{2, 2, 2, 3}, 8), std::invalid_argument);
  // Random draws on a 16-cell grid (side 128, factor 8) with fractions [0.25, 0.5]: sides
  // int(16·u) in 4..8 per axis, independently, inside the grid; both ends are reached.
  const torch::Tensor big = torch::zeros({3, 128, 128});
  torch::Generator gen = at::detail::createCPUGenerator(5);
  int64_t smallest = 99, largest = 0, unequal = 0;
  for (int i = 0; i < 200; ++i) {
    const PatchCrop p = random_patch_crop(big, 8, 0.25, 0.5, gen);
    const int64_t h = p.box.bottom - p.box.top, w = p.box.right - p.box.left;
    BOOST_TEST((p.box.top >= 0 && p.box.left >= 0 && p.box.bottom <= 16 && p.box.right <= 16));
    BOOST_TEST((h >= 4 && h <= 8 && w >= 4 && w <= 8));
    smallest = std::min({smallest, h, w});
    largest = std::max({largest, h, w});
    unequal += h != w;
    BOOST_TEST(p.pixels.sizes() == torch::IntArrayRef({3, 128, 128}));
  }
  BOOST_TEST(smallest == 4);
  BOOST_TEST(largest >= 7);  // int(16 · 0.5) = 8 only at u = 1 exactly
  BOOST_TEST(unequal > 100);
  // A tiny grid never gets an empty patch (the reference's int() would give 0 cells).
  const PatchCrop tiny = random_patch_crop(torch::zeros({3, 16, 16}), 8, 0.1, 0.1, gen);
  BOOST_TEST((tiny.box.bottom - tiny.box.top == 1 && tiny.box.right - tiny.box.left == 1));
}

BOOST_AUTO_TEST_CASE(the_encoding_reaches_conv_in_for_the_batchs_boxes_only) {
  models::Pipeline p = small_pipeline();
  SubjectData subject = kit_subject(p);
  auto method = read_method(method_yaml("name: sine\npatch: true\n")).build();
  MethodTarget target{p, &subject};
  method->attach(target);
  BOOST_TEST((method->instance_augmentation() == InstanceAugmentation::patch_crop));
  BOOST_TEST(method->training_images(subject) == std::vector<int64_t>{0});
  const Batch b = make_batch(p);
  const torch::Tensor context = models::encode_token_ids(p, b.ids).detach();
  torch::NoGradGuard no_grad;
  const auto eps = [&] { return p.unet->forward(b.sample, b.timestep, context); };
  const torch::Tensor whole = eps();  // outside a training pass: the whole image's grid
  BatchImages rows = kit_batch_images();
  const int64_t g = p.unet->config().sample_size;
  rows.boxes = {CropBox{0, 0, g / 2, g / 2}, CropBox{g / 2, g / 2, g, g}};
  torch::Tensor inside;
  method->batch_loss(context, rows, [&](const torch::Tensor&) {
    inside = eps();
    return inside.mean();
  });
  BOOST_TEST(!torch::allclose(inside, whole));     // the boxes reached conv_in
  BOOST_TEST(torch::equal(eps(), whole));           // and were cleared after the pass
  // Without patches nothing is attached: the frozen model's prediction.
  models::Pipeline plain = small_pipeline();
  auto no_patch = read_method(method_yaml("name: sine\n")).build();
  const torch::Tensor frozen = plain.unet->forward(b.sample, b.timestep, context);
  MethodTarget plain_target{plain, &subject};
  no_patch->attach(plain_target);
  BOOST_TEST(torch::equal(plain.unet->forward(b.sample, b.timestep, context), frozen));
  BOOST_TEST(!torch::allclose(whole, frozen));  // while the patch model adds its grid
}

BOOST_AUTO_TEST_CASE(an_image_the_subject_lacks_is_refused_naming_the_key) {
  models::Pipeline p = small_pipeline();
  SubjectData subject = kit_subject(p);  // two images
  auto method = read_method(method_yaml("name: sine\nimage_index: 2\n")).build();
  MethodTarget target{p, &subject};
  BOOST_CHECK_EXCEPTION(method->attach(target), InputError, [](const InputError& e) {
    return std::string(e.what()).find("method.image_index") != std::string::npos;
  });
  BOOST_CHECK_THROW(read_method(method_yaml("name: sine\nmin_crop_frac: 0.6\nmax_crop_frac: 0.5\n")), InputError);
}

BOOST_AUTO_TEST_CASE(model_guided_noise_mixes_the_two_models_inside_the_range) {
  const torch::Tensor u = torch::full({1}, 1.0), c = torch::full({1}, 3.0), s = torch::full({1}, -2.0);
  sample::ModelGuidanceOptions o;
  o.guidance = 10;
  o.beta = 0.4;
  // u + w (β c + (1 − β) s − u) = 1 + 10 (1.2 − 1.2 − 1) = −9; outside: 1 + 10 (3 − 1) = 21.
  BOOST_TEST(sample::model_guided_noise(u, c, s, o, true).item<double>() == -9.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(sample::model_guided_noise(u, c, s, o, false).item<double>() == 21.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(sample::model_guided_noise({}, c, s, o, true).item<double>() == 0.0, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(the_fine_tuned_model_changes_the_edit_only_inside_its_range) {
  models::Pipeline frozen = small_pipeline(), tuned = small_pipeline();
  {
    torch::NoGradGuard no_grad;  // a different "fine-tuned" model
    torch::Generator gen = at::detail::createCPUGenerator(4);
    for (auto& t : tuned.unet->parameters()) t.add_(0.05 * torch::randn(t.sizes(), gen));
  }
  const torch::Tensor z = sample::initial_latent(frozen, 3);
  const torch::Tensor edit = models::encode_prompts(frozen, {"a photo of a cat"}).detach();
  const torch::Tensor source = models::encode_prompts(tuned, {"a photo of a dog"}).detach();
  const torch::Tensor uncond = models::encode_prompts(frozen, {""}).detach();
  sample::ModelGuidanceOptions o;
  o.num_steps = 4;
  o.guidance = 5;
  auto run = [&](double beta, int64_t t_min, int64_t t_max) {
    o.beta = beta;
    o.t_min = t_min;
    o.t_max = t_max;
    return sample::model_guided_sample(frozen, tuned, z, edit, source, uncond, o);
  };
  const torch::Tensor alone = run(1.0, 0, 1000);  // β = 1: the frozen model's guided sample
  BOOST_TEST(torch::allclose(run(0.4, 2000, 3000), alone));  // no step in range: the same
  BOOST_TEST(!torch::allclose(run(0.4, 0, 1000), alone, 1e-4, 1e-4));
  // One step by hand: the schedule's first timestep with the formula's ε.
  o.num_steps = 1;
  o.beta = 0.4;
  o.t_min = 0;
  o.t_max = 1000;
  const torch::Tensor got = sample::model_guided_sample(frozen, tuned, z, edit, source, uncond, o);
  const sched::DDIMScheduler scheduler = sample::ddim_scheduler(frozen, 1);
  const int64_t t0 = sample::sampling_timesteps(scheduler).front();
  torch::NoGradGuard no_grad;
  const torch::Tensor t = torch::tensor(t0, torch::kInt64);
  const torch::Tensor eps = frozen.unet->forward(z, t, uncond) +
                            5.0 * (0.4 * frozen.unet->forward(z, t, edit) + 0.6 * tuned.unet->forward(z, t, source) -
                                   frozen.unet->forward(z, t, uncond));
  BOOST_TEST(torch::allclose(got, scheduler.step(eps, t0, z).prev_sample, 1e-5, 1e-5));
  o.beta = 1.5;
  BOOST_CHECK_THROW(sample::model_guided_sample(frozen, tuned, z, edit, source, uncond, o), InputError);
}
