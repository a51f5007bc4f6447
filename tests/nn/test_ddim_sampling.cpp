#define BOOST_TEST_MODULE ddim_sampling
#include <boost/test/unit_test.hpp>
// DDIM + classifier-free guidance sampling on a tiny random pipeline:
// determinism per (seed, prompt index, image index), batch == one by one,
// guidance scale 1 == the conditional-only path, the prompt-encoder hook,
// progress reports and option checks. No ../shared needed.
#include <ATen/CPUGeneratorImpl.h>

#include <set>

#include "framework/sample/ddim_sampling.hpp"
#include "framework/util/errors.hpp"
#include "tests/nn/tiny_models.hpp"

using namespace pbench;
using namespace pbench::sample;

namespace {

models::Pipeline& pipeline() {
  static models::Pipeline p = [] {
    torch::manual_seed(11);
    return test::tiny_pipeline();
  }();
  return p;
}

SamplingOptions quick(double scale = 7.5, int64_t batch = 4, double eta = 0.0) {
  SamplingOptions o;
  o.num_inference_steps = 4;  // enough to run the loop; the tests compare, not judge quality
  o.guidance_scale = scale;
  o.batch_size = batch;
  o.eta = eta;
  return o;
}

const std::vector<std::string> kPrompts{"a sks dog in the snow", "a red cube on a table"};

}  // namespace

BOOST_AUTO_TEST_CASE(images_are_uint8_rgb_in_job_order_with_their_seeds) {
  auto jobs = grid_jobs(kPrompts, 2);
  BOOST_REQUIRE_EQUAL(jobs.size(), 4u);
  BOOST_TEST(jobs[2].prompt == kPrompts[1]);
  BOOST_TEST(jobs[2].prompt_index == 1);
  BOOST_TEST(jobs[3].image_index == 1);
  SampleSet s = sample_images(pipeline(), jobs, 7, quick());
  BOOST_TEST(s.images.dtype() == torch::kUInt8);
  BOOST_TEST(s.images.sizes() == (std::vector<int64_t>{4, 16, 16, 3}), s.images.sizes());
  BOOST_TEST(s.prompts == (std::vector<std::string>{kPrompts[0], kPrompts[0], kPrompts[1], kPrompts[1]}),
             boost::test_tools::per_element());
  for (size_t i = 0; i < jobs.size(); ++i) {
    BOOST_TEST(s.seeds[i] == image_seed(7, jobs[i].prompt_index, jobs[i].image_index));
    BOOST_TEST(s.seeds[i] >= 0);
  }
  // Every (prompt, image) cell and every run seed gets its own stream.
  std::set<int64_t> distinct(s.seeds.begin(), s.seeds.end());
  distinct.insert(image_seed(8, 0, 0));
  BOOST_TEST(distinct.size() == 5u);
}

BOOST_AUTO_TEST_CASE(same_seed_same_images_and_different_cells_differ) {
  auto jobs = grid_jobs(kPrompts, 2);
  SampleSet a = sample_images(pipeline(), jobs, 7, quick());
  SampleSet b = sample_images(pipeline(), jobs, 7, quick());
  BOOST_TEST(torch::equal(a.images, b.images));
  // Same prompt, other image index; other prompt, same index.
  BOOST_TEST(!torch::equal(a.images[0], a.images[1]));
  BOOST_TEST(!torch::equal(a.images[0], a.images[2]));
  SampleSet c = sample_images(pipeline(), jobs, 8, quick());
  BOOST_TEST(!torch::equal(a.images[0], c.images[0]));
}

BOOST_AUTO_TEST_CASE(batched_equals_one_at_a_time_bit_for_bit) {
  auto jobs = grid_jobs(kPrompts, 3);  // 6 images: batches of 4 + 2 against 1 by 1
  for (double eta : {0.0, 0.7}) {
    SampleSet batched = sample_images(pipeline(), jobs, 3, quick(7.5, 4, eta));
    SampleSet single = sample_images(pipeline(), jobs, 3, quick(7.5, 1, eta));
    BOOST_TEST(torch::equal(batched.images, single.images), "eta " << eta);
    // Any image regenerated alone from its grid cell.
    SampleSet alone = sample_images(pipeline(), {jobs[4]}, 3, quick(7.5, 4, eta));
    BOOST_TEST(torch::equal(alone.images[0], batched.images[4]), "eta " << eta);
    BOOST_TEST(alone.seeds[0] == batched.seeds[4]);
  }
  // eta draws extra noise from the same per-image streams: it must change the result.
  BOOST_TEST(!torch::equal(sample_images(pipeline(), jobs, 3, quick(7.5, 4, 0.0)).images,
                           sample_images(pipeline(), jobs, 3, quick(7.5, 4, 0.7)).images));
}

BOOST_AUTO_TEST_CASE(guidance_scale_one_is_the_conditional_prediction_alone) {
  models::Pipeline& p = pipeline();
  const ImageJob job{kPrompts[0], 1, 2};
  SampleSet s = sample_images(p, {job}, 5, quick(1.0));

  // The conditional-only DDIM loop written out by hand.
  torch::NoGradGuard no_grad;
  torch::Tensor context = default_prompt_encoder(p)(job.prompt);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(uint64_t(image_seed(5, 1, 2)));
  torch::Tensor latents = torch::randn({1, 4, 8, 8}, gen, torch::kFloat32);
  sched::DDIMScheduler scheduler(p.scheduler);
  scheduler.set_timesteps(4);
  for (int64_t i = 0; i < scheduler.timesteps().size(0); ++i) {
    torch::Tensor t = scheduler.timesteps()[i];
    torch::Tensor eps = p.unet->forward(latents, t, context);
    latents = scheduler.step(eps, t.item<int64_t>(), latents).prev_sample;
  }
  torch::Tensor expected = models::vae_postprocess_u8(p.vae->decode(latents / p.vae->scaling_factor()));
  BOOST_TEST(torch::equal(s.images, expected));

  // The guidance formula at scale 1 is the conditional prediction (up to rounding) ...
  torch::Tensor u = torch::randn({2, 4, 8, 8}), c = torch::randn({2, 4, 8, 8});
  BOOST_TEST(torch::allclose(guided_noise(u, c, 1.0), c, 0.0, 1e-6));
  BOOST_TEST(torch::allclose(guided_noise(u, c, 0.0), u));
  BOOST_TEST(torch::allclose(guided_noise(u, c, 3.0), u + 3.0 * (c - u)));
  // ... and guidance does change the images.
  BOOST_TEST(!torch::equal(s.images, sample_images(p, {job}, 5, quick(7.5)).images));
}

BOOST_AUTO_TEST_CASE(prompt_encoder_hook_replaces_the_default) {
  models::Pipeline& p = pipeline();
  PromptEncoder base = default_prompt_encoder(p);
  std::vector<std::string> seen;
  // A rewriting encoder (as Textual Inversion's): "<v>" stands for "sks dog".
  PromptEncoder rewrite = [&](const std::string& prompt) {
    seen.push_back(prompt);
    std::string text = prompt;
    if (auto at = text.find("<v>"); at != std::string::npos) text.replace(at, 3, "sks dog");
    return base(text);
  };
  auto jobs = grid_jobs({"a <v> in the snow"}, 2);
  SampleSet hooked = sample_images(p, jobs, 9, quick(), rewrite);
  SampleSet plain = sample_images(p, grid_jobs({"a sks dog in the snow"}, 2), 9, quick());
  BOOST_TEST(torch::equal(hooked.images, plain.images));
  BOOST_TEST(hooked.prompts[0] == "a <v> in the snow");  // stored as given
  // Each distinct prompt (and the unconditional "") is encoded once.
  std::set<std::string> distinct(seen.begin(), seen.end());
  BOOST_TEST(seen.size() == distinct.size());
  BOOST_TEST(distinct.count(""));
}

BOOST_AUTO_TEST_CASE(the_unconditional_branch_has_its_own_encoder) {
  models::Pipeline& p = pipeline();
  PromptEncoder base = default_prompt_encoder(p);
  std::vector<std::string> cond_seen, negative_seen;
  PromptEncoder cond = [&](const std::string& prompt) {
    cond_seen.push_back(prompt);
    return base(prompt);
  };
  PromptEncoder negative = [&](const std::string& prompt) {
    negative_seen.push_back(prompt);
    return base(prompt);
  };
  SampleSet split = sample_images(p, grid_jobs({"a sks dog"}, 1), 9, quick(), cond, negative);
  BOOST_TEST(cond_seen == std::vector<std::string>{"a sks dog"}, boost::test_tools::per_element());
  BOOST_TEST(negative_seen == std::vector<std::string>{""}, boost::test_tools::per_element());
  BOOST_TEST(torch::equal(split.images, sample_images(p, grid_jobs({"a sks dog"}, 1), 9, quick()).images));
}

BOOST_AUTO_TEST_CASE(progress_reports_every_step_of_every_batch) {
  std::vector<SamplingProgress> reports;
  sample_images(pipeline(), grid_jobs(kPrompts, 3), 1, quick(7.5, 4),
                {}, {}, [&](const SamplingProgress& pr) { reports.push_back(pr); });
  BOOST_REQUIRE_EQUAL(reports.size(), 8u);  // 2 batches x 4 steps
  BOOST_TEST(reports[3].step == 4);
  BOOST_TEST(reports[3].images_done == 4);
  BOOST_TEST(reports[4].batch == 1);
  BOOST_TEST(reports.back().images_done == 6);
  BOOST_TEST(reports.back().images_total == 6);
}

BOOST_AUTO_TEST_CASE(bad_options_are_input_errors) {
  auto jobs = grid_jobs(kPrompts, 1);
  auto fails = [&](SamplingOptions o, const std::string& key) {
    try {
      sample_images(pipeline(), jobs, 1, o);
    } catch (const InputError& e) {
      return std::string(e.what()).find(key) != std::string::npos;
    }
    return false;
  };
  BOOST_TEST(fails(quick(0.5), "guidance_scale"));
  BOOST_TEST(fails(quick(7.5, 0), "batch_size"));
  BOOST_TEST(fails(quick(7.5, 4, -1.0), "eta"));
  SamplingOptions zero = quick();
  zero.num_inference_steps = 0;
  BOOST_TEST(fails(zero, "num_inference_steps"));
  BOOST_CHECK_THROW(grid_jobs(kPrompts, 0), InputError);
  models::Pipeline bad = pipeline();
  bad.resolution = 15;
  BOOST_CHECK_THROW(latent_side(bad), InputError);
}

BOOST_AUTO_TEST_CASE(builtin_tiny_samples_reproducibly_at_its_resolution) {
  // builtin:tiny's weights come from a seeded init: two loads sample the same images.
  models::Pipeline a = models::load_pipeline("builtin:tiny");
  models::Pipeline b = models::load_pipeline("builtin:tiny");
  SamplingOptions o = quick(7.5, 2);
  o.num_inference_steps = 2;
  auto jobs = grid_jobs({"a sks dog"}, 3);  // batches of 2 + 1
  SampleSet sa = sample_images(a, jobs, 4, o);
  BOOST_TEST(sa.images.sizes() == (std::vector<int64_t>{3, a.resolution, a.resolution, 3}), sa.images.sizes());
  BOOST_TEST(latent_side(a) == a.latent_size());
  BOOST_TEST(torch::equal(sa.images, sample_images(b, jobs, 4, o).images));
  // OPEN (see ddim_sampling.hpp): on this config LibTorch's UNet and VAE
  // forwards differ by ~1e-6 between batch sizes (with and without oneDNN),
  // so one-by-one images may differ from batched ones by a few uint8 levels.
  // Bit-identity across batch sizes holds on the tiny test pipeline above.
  o.batch_size = 1;
  torch::Tensor single = sample_images(b, jobs, 4, o).images;
  int64_t max_level = (sa.images.to(torch::kInt32) - single.to(torch::kInt32)).abs().max().item<int64_t>();
  BOOST_TEST_MESSAGE("builtin:tiny batched vs one by one: max |delta| = " << max_level << " uint8 levels");
  BOOST_TEST(max_level <= 2);
  BOOST_TEST(!torch::equal(sa.images[0], sa.images[1]));
}
