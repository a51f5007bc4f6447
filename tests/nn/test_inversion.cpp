#define BOOST_TEST_MODULE inversion
#include <boost/test/unit_test.hpp>
// Inversion (issue 19): the reconstruction metrics against closed forms and an
// independent loop, DDIM inversion's first step against the NULL-text code's
// formula, NULL-text inversion against plain DDIM inversion at guidance 7.5,
// EDICT's exact inversion at the float64 floor (and its float32 error),
// and the `invert` workload end to end through `pbench invert` (run file
// groups, PNG, config errors with exit 2). On builtin:mini, a mini-world image.
#include <cmath>
#include <filesystem>

#include "datasets/dataset.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/io/image.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/edict.hpp"
#include "framework/sample/null_text_inversion.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "metrics/image_fidelity.hpp"
#include "metrics/metric.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
namespace fs = std::filesystem;

namespace {

torch::Tensor constant_image(int64_t side, int value) {
  return torch::full({side, side, 3}, value, torch::kUInt8);
}

torch::Tensor random_image(int64_t side, int64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {side, side, 3}, torch::kInt64).to(torch::kUInt8);
}

// SSIM by explicit loops over every valid window position and channel: the
// formula of Wang et al. written out, sharing nothing with ssim_u8 but the window.
double ssim_by_loops(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t side = 11, h = a.size(0), w = a.size(1);
  const torch::Tensor win = metrics::ssim_window(side);
  auto A = a.to(torch::kFloat64), B = b.to(torch::kFloat64);
  auto wa = win.accessor<double, 2>();
  auto pa = A.accessor<double, 3>(), pb = B.accessor<double, 3>();
  const double c1 = std::pow(0.01 * 255, 2), c2 = std::pow(0.03 * 255, 2);
  double total = 0;
  int64_t count = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y + side <= h; ++y)
      for (int64_t x = 0; x + side <= w; ++x) {
        double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
        for (int64_t i = 0; i < side; ++i)
          for (int64_t j = 0; j < side; ++j) {
            double g = wa[i][j], u = pa[y + i][x + j][c], v = pb[y + i][x + j][c];
            mx += g * u;
            my += g * v;
            sxx += g * u * u;
            syy += g * v * v;
            sxy += g * u * v;
          }
        double vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my;
        total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        ++count;
      }
  return total / double(count);
}

const models::Pipeline& mini() {
  static models::Pipeline pipeline = [] {
    models::Pipeline p = models::load_pipeline(models::kBuiltinMini);
    freeze_pipeline(p);
    return p;
  }();
  return pipeline;
}

// Image 0 of a mini-world subject at builtin:mini's resolution.
Image mini_world_image(const std::string& subject) {
  const auto& dataset = datasets().get("mini_world", "test");
  cfg::Node section = cfg::parse_yaml_text("name: mini_world\nsubject: " + subject + "\n", {"test", 0});
  return dataset.factory
      .load(cfg::with_defaults(section, dataset.info.defaults), int(mini().resolution),
            test::scratch_dir("inversion_cache"))
      .images.at(0);
}

double latent_mse(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).pow(2).mean().item<double>(); }

}  // namespace

BOOST_AUTO_TEST_CASE(psnr_matches_its_closed_form) {
  // A uniform offset d: MSE = d², PSNR = 20·log10(255/d).
  for (int d : {1, 5, 40}) {
    double got = metrics::psnr_u8(constant_image(16, 100), constant_image(16, 100 + d));
    BOOST_TEST(got == 20.0 * std::log10(255.0 / d), boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(std::isinf(metrics::psnr_u8(random_image(16, 1), random_image(16, 1))));
  BOOST_CHECK_THROW(metrics::psnr_u8(constant_image(16, 0), constant_image(8, 0)), InputError);
}

BOOST_AUTO_TEST_CASE(background_psnr_scores_outside_the_mask_only) {
  // Left half changed by d inside the mask, right half by e outside it: PSNR = 20·log10(255/e).
  torch::Tensor a = constant_image(16, 100), b = constant_image(16, 100);
  b.narrow(1, 0, 8).fill_(140);  // inside (masked): ignored
  b.narrow(1, 8, 8).fill_(103);  // outside: off by 3
  torch::Tensor mask = torch::zeros({16, 16});
  mask.narrow(1, 0, 8).fill_(1);
  BOOST_TEST(metrics::psnr_outside_u8(b, a, mask) == 20.0 * std::log10(255.0 / 3.0), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(std::isnan(metrics::psnr_outside_u8(b, a, torch::ones({16, 16}))));
  BOOST_TEST(std::isinf(metrics::psnr_outside_u8(a, a, mask)));
  metrics::MetricInputs inputs(b.unsqueeze(0), {"x"}, a.unsqueeze(0), "", {});
  inputs.set_source(a.unsqueeze(0));
  BOOST_CHECK_THROW(metrics::metrics_registry().get("background_psnr", "t").factory.compute(inputs), InputError);
  inputs.set_mask(mask.unsqueeze(0));
  BOOST_TEST(metrics::metrics_registry().get("background_psnr", "t").factory.compute(inputs).mean ==
             20.0 * std::log10(255.0 / 3.0), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(ssim_matches_closed_form_and_an_independent_loop) {
  // Constant images a, b: no variance, so SSIM is the luminance term (2ab + C1)/(a² + b² + C1).
  const double c1 = std::pow(0.01 * 255, 2);
  for (auto [a, b] : std::vector<std::pair<int, int>>{{100, 100}, {100, 140}, {20, 230}}) {
    double expected = (2.0 * a * b + c1) / (double(a) * a + double(b) * b + c1);
    BOOST_TEST(metrics::ssim_u8(constant_image(24, a), constant_image(24, b)) == expected,
               boost::test_tools::tolerance(1e-9));
  }
  torch::Tensor x = random_image(20, 2);
  BOOST_TEST(metrics::ssim_u8(x, x) == 1.0, boost::test_tools::tolerance(1e-12));
  // A noisy copy: the vectorized SSIM equals the loop's to float64 rounding, and is well below 1.
  torch::Tensor noisy = (x.to(torch::kInt64) + torch::randint(-40, 41, x.sizes(), torch::kInt64)).clamp(0, 255).to(torch::kUInt8);
  const double got = metrics::ssim_u8(x, noisy);
  BOOST_TEST(got == ssim_by_loops(x, noisy), boost::test_tools::tolerance(1e-10));
  BOOST_TEST((got > 0.5 && got < 0.99));
  BOOST_TEST(metrics::ssim_window(11).sum().item<double>() == 1.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(reconstruction_metrics_are_registered_and_need_source_images) {
  for (const char* name : {"psnr", "ssim"}) {
    const auto& entry = metrics::metrics_registry().get(name, "test");
    BOOST_TEST(entry.factory.backbone.empty());
    BOOST_TEST((entry.factory.consumes == std::vector<std::string>{"generated", "source"}));
  }
  torch::Tensor images = torch::stack({random_image(16, 3), random_image(16, 4)});
  metrics::MetricInputs inputs(images, {"a", "b"}, images, "", {});
  BOOST_CHECK_THROW(metrics::metrics_registry().get("psnr", "test").factory.compute(inputs), InputError);
  inputs.set_source(images.narrow(0, 0, 1));  // one source for both images
  auto r = metrics::metrics_registry().get("psnr", "test").factory.compute(inputs);
  BOOST_TEST(std::isinf(r.per_image[0].item<double>()));
  BOOST_TEST(std::isfinite(r.per_image[1].item<double>()));
  BOOST_CHECK_THROW(inputs.set_source(torch::stack({images[0], images[0], images[0]})), InputError);
}

BOOST_AUTO_TEST_CASE(ddim_inversion_steps_as_the_null_text_code) {
  models::Pipeline pipeline = mini();
  const int64_t steps = 10;
  torch::Tensor image = images_u8({mini_world_image("red_white_striped_cube")})[0];
  torch::Tensor z0 = sample::image_latent(pipeline, image);
  torch::Tensor cond = models::encode_prompts(pipeline, {"a red cube"}).detach();
  std::vector<torch::Tensor> traj = sample::ddim_invert(pipeline, z0, cond, steps);
  BOOST_REQUIRE_EQUAL(traj.size(), size_t(steps + 1));
  BOOST_TEST(torch::equal(traj[0], z0));

  // The sampler's timesteps reversed are the inversion's; its first step goes from ᾱ_0
  // (set_alpha_to_one false) to the smallest timestep t with ε(z_0, t): x̂0 = (z0 − √(1−ᾱ_0)ε)/√ᾱ_0,
  // z_1 = √ᾱ_t·x̂0 + √(1−ᾱ_t)·ε — the NULL-text code's next_step, written out here.
  std::vector<int64_t> ts = sample::sampling_timesteps(sample::ddim_scheduler(pipeline, steps));
  BOOST_TEST(ts.front() > ts.back());
  BOOST_TEST(!pipeline.scheduler.set_alpha_to_one);
  sched::NoiseSchedule schedule(pipeline.scheduler);
  const double a0 = schedule.alphas_cumprod[0].item<double>(), at = schedule.alphas_cumprod[ts.back()].item<double>();
  torch::Tensor eps;
  {
    torch::NoGradGuard no_grad;
    eps = pipeline.unet->forward(z0, torch::tensor(ts.back()), cond).to(torch::kFloat64);
  }
  torch::Tensor z0d = z0.to(torch::kFloat64);
  torch::Tensor x0 = (z0d - std::sqrt(1 - a0) * eps) / std::sqrt(a0);
  torch::Tensor z1 = std::sqrt(at) * x0 + std::sqrt(1 - at) * eps;
  BOOST_TEST((traj[1].to(torch::kFloat64) - z1).abs().max().item<double>() < 1e-5);

  // At guidance 1 the trajectory runs back to near its start (the inversion's small-step error only).
  torch::Tensor back = sample::ddim_denoise(pipeline, traj.back(), cond, {torch::Tensor()}, 1.0, steps);
  const double err = latent_mse(back, z0), scale = z0.pow(2).mean().item<double>();
  BOOST_TEST_MESSAGE("DDIM inversion round trip at guidance 1: latent MSE " << err << " (latent power " << scale << ")");
  BOOST_TEST(err < 0.1 * scale);
}

BOOST_AUTO_TEST_CASE(null_text_inversion_reconstructs_far_better_than_ddim_at_guidance_7_5) {
  models::Pipeline pipeline = mini();
  torch::Tensor image = images_u8({mini_world_image("blue_yellow_striped_ball")})[0];
  torch::Tensor z0 = sample::image_latent(pipeline, image);
  torch::Tensor cond = models::encode_prompts(pipeline, {"a blue ball"}).detach();
  torch::Tensor uncond = models::encode_prompts(pipeline, {""}).detach();
  sample::NullTextOptions o;
  o.num_steps = 8;
  sample::NullTextResult r = sample::null_text_invert(pipeline, z0, cond, uncond, o);
  BOOST_REQUIRE_EQUAL(r.null_embeddings.size(), size_t(o.num_steps));
  BOOST_REQUIRE_EQUAL(r.pivots.size(), size_t(o.num_steps + 1));
  for (const auto& s : r.steps) BOOST_TEST((s.inner_steps >= 1 && s.inner_steps <= o.inner_steps));
  BOOST_TEST(!torch::equal(r.null_embeddings.front(), uncond));  // the null embedding was optimized
  BOOST_TEST(!torch::equal(r.null_embeddings.back(), r.null_embeddings.front()));
  for (const auto& p : pipeline.unet->parameters()) BOOST_TEST(!p.grad().defined());  // frozen weights untouched

  torch::Tensor with_nti = sample::ddim_denoise(pipeline, r.pivots.back(), cond, r.null_embeddings, 7.5, o.num_steps);
  torch::Tensor plain = sample::ddim_denoise(pipeline, r.pivots.back(), cond, {uncond}, 7.5, o.num_steps);
  const double e_nti = latent_mse(with_nti, z0), e_ddim = latent_mse(plain, z0);
  const double psnr_nti = metrics::psnr_u8(sample::decode_latents_u8(pipeline, with_nti)[0], image);
  const double psnr_ddim = metrics::psnr_u8(sample::decode_latents_u8(pipeline, plain)[0], image);
  BOOST_TEST_MESSAGE("latent MSE: null-text " << e_nti << ", DDIM at 7.5 " << e_ddim << "; PSNR " << psnr_nti
                                              << " vs " << psnr_ddim << " dB");
  BOOST_TEST(e_nti < 0.1 * e_ddim);
  BOOST_TEST(psnr_nti > psnr_ddim + 3.0);
}

BOOST_AUTO_TEST_CASE(edict_inverts_exactly_to_the_floating_point_floor) {
  // Inversion then generation at guidance 3 (EDICT's editing default), 6 steps; in float64 with
  // and without leapfrog. The error is relative to the latent's largest entry.
  Image image = mini_world_image("blue_yellow_striped_ball");
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    models::Pipeline pipeline = models::load_pipeline(models::kBuiltinMini, torch::TensorOptions().dtype(dtype));
    torch::Tensor z0 = sample::image_latent(pipeline, images_u8({image})[0]);
    BOOST_REQUIRE(z0.scalar_type() == dtype);
    torch::Tensor cond = models::encode_prompts(pipeline, {"a blue ball"}).detach();
    torch::Tensor uncond = models::encode_prompts(pipeline, {""}).detach();
    for (bool leapfrog : {true, false}) {
      if (!leapfrog && dtype == torch::kFloat32) continue;
      sample::EdictOptions o;
      o.num_steps = 6;
      o.leapfrog = leapfrog;
      sample::EdictPair inverted = sample::edict_invert(pipeline, z0, cond, uncond, o);
      torch::Tensor back = sample::edict_generate(pipeline, inverted, cond, uncond, o).x;
      const double err = ((back - z0).abs().max() / z0.abs().max()).item<double>();
      BOOST_TEST_MESSAGE("EDICT round trip, " << (dtype == torch::kFloat64 ? "float64" : "float32") << ", leapfrog "
                                              << leapfrog << ": max relative error " << err);
      BOOST_TEST(err < (dtype == torch::kFloat64 ? 1e-9 : 1e-3));
      BOOST_TEST((inverted.x - z0).abs().max().item<double>() > 0.5);  // it did move into noise
    }
    if (dtype == torch::kFloat32) {
      // Plain DDIM inversion at the same guidance is far from exact.
      std::vector<torch::Tensor> traj = sample::ddim_invert(pipeline, z0, cond, 6);
      torch::Tensor ddim = sample::ddim_denoise(pipeline, traj.back(), cond, {uncond}, 3.0, 6);
      const double err = ((ddim - z0).abs().max() / z0.abs().max()).item<double>();
      BOOST_TEST_MESSAGE("DDIM inversion round trip at guidance 3, float32: max relative error " << err);
      BOOST_TEST(err > 0.05);
    }
  }
  models::Pipeline pipeline = mini();
  sample::EdictOptions bad;
  bad.mix = 0.0;
  BOOST_CHECK_THROW(sample::edict_invert(pipeline, torch::zeros({1, 4, 16, 16}), torch::Tensor(), torch::Tensor(), bad),
                    InputError);
}

BOOST_AUTO_TEST_CASE(pbench_invert_writes_the_run_file_and_the_reconstruction) {
  fs::path dir = test::scratch_dir("pbench_invert");
  write_png(dir / "input.png", mini_world_image("white_green_striped_pyramid"));
  auto invoke = [](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return invert_command(int(argv.size()), argv.data());
  };
  const std::string out = (dir / "out").string();
  BOOST_TEST(invoke({"pbench invert", (dir / "input.png").string(), "--method", "null_text", "--steps", "5",
                     "--prompt", "a green pyramid", "--out", out, "--threads", "1"}) == kExitOk);
  BOOST_TEST(fs::exists(dir / "out" / "reconstruction.png"));
  Image png = decode_image_file(dir / "out" / "reconstruction.png");
  BOOST_TEST(png.width == int(mini().resolution));

  h5::Handle file = h5::open_file((dir / "out" / "run.h5").string(), false);
  h5::Handle inv = h5::open_group(file.id(), "inversion");
  BOOST_TEST(h5::attr_string(inv.id(), "method") == "null_text");
  BOOST_TEST(h5::attr_int(inv.id(), "steps") == 5);
  BOOST_TEST(h5::dims_of(inv.id(), "latents").at(0) == 6u);
  BOOST_TEST(h5::dims_of(inv.id(), "null_embeddings").at(0) == 5u);
  BOOST_TEST(h5::read_int64s(inv.id(), "inner_steps").size() == 5u);
  h5::Handle m = h5::open_group(file.id(), "metrics/reconstruction");
  BOOST_TEST(h5::attr_double(m.id(), "psnr") > 10.0);
  BOOST_TEST(h5::attr_double(m.id(), "ssim") > 0.2);
  // The reconstruction stored is the PNG written.
  h5::Handle rec = h5::open_group(file.id(), "samples/reconstruction");
  BOOST_TEST((h5::read_uint8s(rec.id(), "images") == png.rgb));

  // Input errors: exit 2 before any run file.
  BOOST_TEST(invoke({"pbench invert", (dir / "missing.png").string(), "--out", (dir / "bad").string()}) == kExitInput);
  BOOST_TEST(invoke({"pbench invert", (dir / "input.png").string(), "--method", "p2p", "--out",
                     (dir / "bad").string()}) == kExitInput);
  BOOST_TEST(!fs::exists(dir / "bad" / "run.h5"));
}
