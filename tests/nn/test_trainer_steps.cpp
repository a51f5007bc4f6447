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
#include "framework/train/candidate_search.hpp"
#include "framework/train/random_scale.hpp"
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

// ---- Custom Diffusion's random-scale augmentation (issue 15, item 4) ---------------

BOOST_AUTO_TEST_CASE(random_scale_places_the_image_and_masks_the_cells_it_covers) {
  const torch::Tensor image = torch::full({3, 64, 64}, 0.5);
  // Shrunk to 30 px at (5, 7): the rest of the canvas is empty, and the mask keeps rows and
  // columns [start/8 + 1, end/8 - 1) of the 8x8 latent grid, the reference's cell-inside edge.
  ScaledInstance small = place_at_scale(image, 30, 5, 7, 8, 0);
  torch::Tensor inside = torch::zeros({64, 64}, torch::kBool);
  inside.slice(0, 5, 35).slice(1, 7, 37).fill_(true);
  BOOST_TEST(torch::allclose(small.pixels.select(0, 0).masked_select(inside), torch::full({30 * 30}, 0.5)));
  BOOST_TEST(small.pixels.select(0, 0).masked_select(inside.logical_not()).abs().max().item<double>() == 0.0);
  torch::Tensor cells = torch::zeros({1, 8, 8});
  cells.slice(1, 1, 3).slice(2, 1, 3).fill_(1.0);  // rows 5/8+1 .. 35/8-1, columns 7/8+1 .. 37/8-1
  BOOST_TEST(torch::equal(small.mask, cells));
  BOOST_TEST(small.prompt_prefix == "a far away ");  // 30 < 0.6 x 64
  BOOST_TEST(place_at_scale(image, 30, 5, 7, 8, 1).prompt_prefix == "very small ");
  BOOST_TEST(place_at_scale(image, 50, 0, 0, 8, 0).prompt_prefix == "");  // between 0.6 S and S
  BOOST_TEST(place_at_scale(image, 50, 0, 0, 8, 0).mask.sum().item<double>() == 16.0);  // rows/cols [1, 5)
  // Zoomed to 80 px: cropped at (3, 10) of the resized image, every cell seen.
  torch::Tensor ramp = torch::linspace(-1, 1, 64).view({1, 1, 64}).expand({3, 64, 64}).contiguous();
  ScaledInstance big = place_at_scale(ramp, 80, 3, 10, 8, 1);
  torch::Tensor resized = torch::nn::functional::interpolate(
      ramp.unsqueeze(0),
      torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{80, 80}).mode(torch::kBilinear).align_corners(false));
  BOOST_TEST(torch::allclose(big.pixels, resized[0].slice(1, 3, 67).slice(2, 10, 74)));
  BOOST_TEST(torch::equal(big.mask, torch::ones({1, 8, 8})));
  BOOST_TEST(big.prompt_prefix == "close up ");
  BOOST_CHECK_THROW(place_at_scale(image, 30, 40, 0, 8, 0), std::invalid_argument);  // 40 + 30 > 64
  BOOST_CHECK_THROW(place_at_scale(image, 80, 0, 17, 8, 0), std::invalid_argument);  // crop past the edge
}

BOOST_AUTO_TEST_CASE(random_scale_draws_follow_the_reference_distribution) {
  // s ~ U{S/3 .. S} with probability 0.66, else U{int(1.2 S) .. int(1.4 S) - 1}; offsets in range.
  const torch::Tensor image = torch::zeros({3, 64, 64});
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  int shrunk = 0, far = 0, near = 0;
  int64_t lo = 1000, hi = 0, zoom_lo = 1000, zoom_hi = 0;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    ScaledInstance d = random_scale_instance(image, 8, gen);
    const int64_t room = std::max<int64_t>(d.scale, 64) - std::min<int64_t>(d.scale, 64);
    BOOST_REQUIRE(d.top >= 0);
    BOOST_REQUIRE(d.top <= room);
    BOOST_REQUIRE(d.left <= room);
    if (d.scale <= 64) {
      ++shrunk;
      lo = std::min(lo, d.scale), hi = std::max(hi, d.scale);
    } else {
      zoom_lo = std::min(zoom_lo, d.scale), zoom_hi = std::max(zoom_hi, d.scale);
    }
    far += d.prompt_prefix == "a far away " || d.prompt_prefix == "very small ";
    near += d.prompt_prefix == "zoomed in " || d.prompt_prefix == "close up ";
  }
  BOOST_TEST(std::abs(double(shrunk) / n - 0.66) < 0.03);
  BOOST_TEST(lo == 21);  // 64 / 3
  BOOST_TEST(hi == 64);
  BOOST_TEST(zoom_lo == 76);  // int(1.2 x 64)
  BOOST_TEST(zoom_hi == 88);  // int(1.4 x 64) - 1
  BOOST_TEST(near == n - shrunk);  // every zoom says so
  // Scales 21..38 of the 44 shrink values are under 0.6 S: about 0.66 x 18/44 of the draws.
  BOOST_TEST(std::abs(double(far) / n - 0.66 * 18.0 / 44.0) < 0.03);
}

BOOST_AUTO_TEST_CASE(masked_mse_is_the_references_arithmetic) {
  torch::manual_seed(3);
  torch::Tensor pred = torch::randn({2, 4, 3, 3}), target = torch::randn({2, 4, 3, 3});
  torch::Tensor mask = torch::zeros({2, 1, 3, 3});
  mask[0].slice(1, 0, 2).fill_(1.0);  // 6 cells of image 0; image 1 has none
  // Written out: image 0's squared errors over 4 channels x its 6 cells, / 6; image 1 adds 0.
  const double expected = (pred[0] - target[0]).pow(2).slice(1, 0, 2).sum().item<double>() / 6.0 / 2.0;
  BOOST_TEST(masked_mse(pred, target, mask).item<double>() == expected, boost::test_tools::tolerance(1e-6));
  // All cells: 4 (channels) x the plain mean, as the reference's [B, 1, h, w] mask gives.
  BOOST_TEST(masked_mse(pred, target, torch::ones({2, 1, 3, 3})).item<double>() ==
                 4.0 * torch::mse_loss(pred, target).item<double>(),
             boost::test_tools::tolerance(1e-6));
  // No gradient reaches a cell outside the mask.
  torch::Tensor p = pred.clone().requires_grad_(true);
  masked_mse(p, target, mask).backward();
  BOOST_TEST(p.grad()[1].abs().max().item<double>() == 0.0);
  BOOST_TEST(p.grad()[0].slice(1, 2, 3).abs().max().item<double>() == 0.0);
  BOOST_TEST(p.grad()[0].slice(1, 0, 2).abs().max().item<double>() > 0.0);
}

BOOST_AUTO_TEST_CASE(custom_diffusion_draws_rescaled_masked_batches_at_a_per_image_rate) {
  Setup s("name: custom_diffusion\n");
  TrainOptions t = small_train(1);
  t.batch_size = 2;
  t.grad_accum = 3;
  Trainer trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7);
  auto gen = [] { return at::make_generator<at::CPUGeneratorImpl>(11); };
  torch::Generator g1 = gen(), g2 = gen();
  TrainingBatch a = trainer.draw_batch(g1), b = trainer.draw_batch(g2);
  BOOST_REQUIRE(a.mask.defined());
  BOOST_TEST((a.mask.sizes() == std::vector<int64_t>{2, 1, a.latents.size(2), a.latents.size(3)}));
  BOOST_TEST(((a.mask == 0) | (a.mask == 1)).all().item<bool>());
  BOOST_TEST(torch::equal(a.latents, b.latents));  // a function of the generator
  BOOST_TEST(torch::equal(a.mask, b.mask));
  BOOST_TEST(torch::equal(a.context, b.context));
  // Different draws rescale differently: over a few batches the masks differ.
  bool differs = false;
  for (int i = 0; i < 4 && !differs; ++i) differs = !torch::equal(trainer.draw_batch(g1).mask, a.mask);
  BOOST_TEST(differs);
  torch::Generator g3 = gen();
  BOOST_TEST(std::isfinite(trainer.accumulate_gradients(1, g3)));
  // --scale_lr: 1e-5 per image x batch 2 x accumulation 3.
  Trainer::Optimization opt = trainer.make_optimizer();
  for (double lr : opt.base_lrs) BOOST_TEST(lr == 6e-5, boost::test_tools::tolerance(1e-12));
  // augment: false draws the cached posteriors, unmasked; scale_lr: false keeps the rate.
  Setup plain("name: custom_diffusion\naugment: false\nscale_lr: false\n");
  Trainer plain_trainer(plain.pipeline, *plain.method, plain.subject, t, DvarOptions{}, 7);
  torch::Generator g4 = gen();
  BOOST_TEST(!plain_trainer.draw_batch(g4).mask.defined());
  for (double lr : plain_trainer.make_optimizer().base_lrs) BOOST_TEST(lr == 1e-5, boost::test_tools::tolerance(1e-12));
}

// ---- a method that learns by search (framework/train/candidate_search.hpp) ----
namespace {
// A stand-in search over nothing: it trains no tensor and records what the trainer does
// around it (autograd's state at each candidate, the fitness it reports).
struct ProbeSearch : Method, CandidateSearch {
  std::vector<bool> grad_mode_at_install;
  std::vector<std::vector<double>> reports;
  void attach(MethodTarget&) override {}
  std::vector<ParamGroup> parameter_groups(double) override { return {}; }  // an optimizer would refuse this
  TensorMap delta() override { return {}; }
  void load_delta(const TensorMap&) override {}
  std::string describe() const override { return "probe search"; }
  int64_t propose(torch::Generator&) override { return 3; }
  void install_candidate(int64_t) override { grad_mode_at_install.push_back(torch::GradMode::is_enabled()); }
  void report(const std::vector<double>& fitness) override { reports.push_back(fitness); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_search_step_scores_every_candidate_with_autograd_off_and_builds_no_optimizer) {
  Setup s(kTextualInversion);
  ProbeSearch probe;
  TrainOptions t = small_train(2);
  t.batch_size = 2;
  Trainer trainer(s.pipeline, probe, s.subject, t, DvarOptions{}, 7);
  std::vector<float> rates;
  TrainCallbacks cb;
  cb.on_step = [&](int64_t, float, float lr, double) { rates.push_back(lr); };
  TrainResult result = trainer.run(cb);
  BOOST_TEST(result.steps_trained == 2);
  BOOST_TEST(probe.grad_mode_at_install.size() == 6u);  // 3 candidates x 2 generations
  for (bool enabled : probe.grad_mode_at_install) BOOST_TEST(!enabled);
  BOOST_REQUIRE(probe.reports.size() == 2u);
  for (const auto& fitness : probe.reports) {
    BOOST_TEST(fitness.size() == 3u);
    for (double f : fitness) BOOST_TEST((std::isfinite(f) && f > 0.0));
  }
  // The cost axis: 3 candidates x batch 2 forward passes a step, none backward; no learning rate.
  BOOST_TEST(result.forward_images_per_step == 6);
  BOOST_TEST(result.backward_images_per_step == 0);
  BOOST_TEST(result.last_loss == (probe.reports[1][0] + probe.reports[1][1] + probe.reports[1][2]) / 3.0,
             boost::test_tools::tolerance(1e-9));
  for (float lr : rates) BOOST_TEST(lr == 0.0f);
}

BOOST_AUTO_TEST_CASE(a_gradient_step_costs_its_batches_forward_and_backward) {
  Setup s(kTextualInversion);
  TrainOptions t = small_train(1);
  t.batch_size = 2;
  t.grad_accum = 3;
  TrainResult result = Trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7).run({});
  BOOST_TEST(result.forward_images_per_step == 6);
  BOOST_TEST(result.backward_images_per_step == 6);
}

BOOST_AUTO_TEST_CASE(a_batch_names_the_subject_image_and_the_mirroring_of_each_row) {
  Setup s(kTextualInversion);
  for (const bool flip : {false, true}) {
    TrainOptions t = small_train(1);
    t.batch_size = 4;
    t.flip = flip;
    Trainer trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7);
    torch::Generator gen = at::detail::createCPUGenerator(9);
    int64_t mirrored = 0;
    for (int draw = 0; draw < 8; ++draw) {
      const TrainingBatch batch = trainer.draw_batch(gen);
      BOOST_TEST(batch.images.index.sizes() == torch::IntArrayRef({4}));
      BOOST_TEST(batch.images.flipped.sizes() == torch::IntArrayRef({4}));
      BOOST_TEST((batch.images.index.min().item<int64_t>() >= 0 && batch.images.index.max().item<int64_t>() < 3));
      mirrored += batch.images.flipped.sum().item<int64_t>();
    }
    if (flip)
      BOOST_TEST((mirrored > 0 && mirrored < 32), mirrored << " of 32 rows mirrored");
    else
      BOOST_TEST(mirrored == 0);
  }
}

BOOST_AUTO_TEST_CASE(disenbooth_trains_in_the_engines_loop_at_two_unet_passes_per_image) {
  Setup s("name: disenbooth\nrank: 2\nlr: 1.0e-2\n");
  TensorMap start;
  for (const auto& [key, t] : s.method->delta()) start[key] = t.detach().clone();
  TrainOptions t = small_train(2);
  t.batch_size = 2;
  t.flip = true;
  TrainResult result = Trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7).run({});
  BOOST_TEST(std::isfinite(result.last_loss));
  BOOST_TEST(result.forward_images_per_step == 4);  // the image-conditioned and the text-only pass
  BOOST_TEST(result.backward_images_per_step == 4);
  for (const auto& [key, t0] : start)
    BOOST_TEST(!torch::equal(t0, s.method->delta().at(key)), key << " did not move in two steps");
}

BOOST_AUTO_TEST_CASE(sine_trains_on_its_one_image_patch_by_patch) {
  // arXiv 2212.04489: every row is the method's image (training_images), cut to a patch whose box
  // on the latent grid comes with the batch (InstanceAugmentation::patch_crop).
  Setup s("name: sine\nimage_index: 1\npatch: true\nmin_crop_frac: 0.5\nlr: 1.0e-3\n");
  TrainOptions t = small_train(2);
  t.batch_size = 4;
  Trainer trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7);
  torch::Generator gen = at::detail::createCPUGenerator(9);
  const int64_t cells = s.pipeline.unet->config().sample_size;
  bool some_patch_smaller = false;
  for (int draw = 0; draw < 4; ++draw) {
    const TrainingBatch batch = trainer.draw_batch(gen);
    BOOST_TEST((batch.images.index == 1).all().item<bool>());
    BOOST_REQUIRE(batch.images.boxes.size() == 4u);
    for (const CropBox& b : batch.images.boxes) {
      BOOST_TEST((b.top >= 0 && b.left >= 0 && b.bottom <= cells && b.right <= cells));
      BOOST_TEST((2 * (b.bottom - b.top) >= cells && 2 * (b.right - b.left) >= cells));  // min_crop_frac 0.5
      some_patch_smaller |= b.bottom - b.top < cells || b.right - b.left < cells;
    }
    BOOST_TEST(!batch.mask.defined());
  }
  BOOST_TEST(some_patch_smaller);
  const torch::Tensor before = s.pipeline.unet->parameters().front().detach().clone();
  TrainResult result = trainer.run({});
  BOOST_TEST(std::isfinite(result.last_loss));
  BOOST_TEST(!torch::equal(before, s.pipeline.unet->parameters().front()));
  BOOST_TEST(std::isfinite(trainer.deterministic_objective()));
}

BOOST_AUTO_TEST_CASE(cones_scores_are_neither_stepped_nor_clipped) {
  // arXiv 2303.05125 in the engine's loop: the neuron scales are scored (ParamGroup::stepped false),
  // so gradient clipping must not shrink the scores: a tiny max_grad_norm shuts exactly the
  // neurons that no clipping shuts, and the scales only ever go from 1 to 0.
  auto shut_after = [](double max_grad_norm) {
    Setup s("name: cones\nthreshold: 1.0e-7\nprior_preservation: false\n");
    TrainOptions t = small_train(2);
    t.max_grad_norm = max_grad_norm;
    TrainResult result = Trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7).run({});
    BOOST_TEST(std::isfinite(result.last_loss));
    std::vector<torch::Tensor> shut;
    for (const auto& g : s.method->parameter_groups(1e-3))
      for (const auto& scale : g.params) {
        BOOST_TEST(((scale == 0) | (scale == 1)).all().item<bool>());
        shut.push_back((scale == 0).clone());
      }
    return shut;
  };
  const auto unclipped = shut_after(0.0), clipped = shut_after(1e-9);
  BOOST_REQUIRE(unclipped.size() == clipped.size());
  int64_t total = 0;
  for (size_t i = 0; i < unclipped.size(); ++i) {
    BOOST_TEST(torch::equal(unclipped[i], clipped[i]));
    total += unclipped[i].sum().item<int64_t>();
  }
  BOOST_TEST(total > 0);
}

BOOST_AUTO_TEST_CASE(gradient_free_ti_trains_in_the_engines_loop_with_forward_passes_only) {
  // arXiv 2304.05818 in the engine's loop: CMA-ES generations move the token's row, no tensor
  // requires a gradient and none is computed. (That the search lowers its fitness is shown on a
  // deterministic fitness in test_methods_text_side: builtin:tiny's random weights give the
  // token's row almost no effect on the denoising loss, below the noise of fresh batches.)
  Setup s("name: gradient_free_ti\npopulation: 8\nintrinsic_dim: 16\n");
  const torch::Tensor start = s.method->delta().at("<sks>").clone();
  TrainOptions t = small_train(3);
  t.batch_size = 2;
  Trainer trainer(s.pipeline, *s.method, s.subject, t, DvarOptions{}, 7);
  TrainResult result = trainer.run({});
  BOOST_TEST(result.steps_trained == 3);
  BOOST_TEST(std::isfinite(result.last_loss));
  BOOST_TEST(std::isfinite(trainer.deterministic_objective()));
  BOOST_TEST(!torch::equal(s.method->delta().at("<sks>"), start));
  BOOST_TEST(result.forward_images_per_step == 16);
  BOOST_TEST(result.backward_images_per_step == 0);
  for (torch::nn::Module* m : std::vector<torch::nn::Module*>{s.pipeline.unet.ptr().get(), s.pipeline.text_encoder.ptr().get(),
                                                               s.pipeline.vae.ptr().get()})
    for (const auto& p : m->parameters()) {
      BOOST_TEST(!p.requires_grad());
      BOOST_TEST(!p.grad().defined());
    }
}
