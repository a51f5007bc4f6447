#define BOOST_TEST_MODULE schedulers
#include <boost/test/unit_test.hpp>

#include "framework/models/schedulers/schedulers.hpp"
#include "framework/util/errors.hpp"

// Invariants of the DDPM / DDIM / DDIM-inverse schedulers that hold for any
// config (the reference values themselves are checked by test_parity_schedulers).

using namespace pbench::sched;

namespace {

// Stable Diffusion v1.5's scheduler settings.
SchedulerConfig sd15() {
  return SchedulerConfig::parse(R"({"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "set_alpha_to_one": false,
    "skip_prk_steps": true, "steps_offset": 1, "clip_sample": false, "trained_betas": null})",
                                "sd15.json");
}

std::vector<int64_t> vec(const torch::Tensor& t) { return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()}; }

}  // namespace

BOOST_AUTO_TEST_CASE(config_reads_keys_and_defaults) {
  SchedulerConfig c = sd15();
  BOOST_TEST(c.steps_offset == 1);
  BOOST_TEST(!c.set_alpha_to_one);
  BOOST_TEST(c.timestep_spacing == "leading");  // default
  BOOST_TEST(c.variance_type == "fixed_small");  // default
  SchedulerConfig d = SchedulerConfig::parse("{}", "empty.json");
  BOOST_TEST(d.beta_schedule == "linear");
  BOOST_TEST(d.clip_sample);
  BOOST_CHECK_THROW(SchedulerConfig::parse(R"({"beta_schedule": "sigmoid"})", "x.json"), pbench::InputError);
  BOOST_CHECK_THROW(SchedulerConfig::parse(R"({"steps_offset": "one"})", "x.json"), pbench::InputError);
  BOOST_CHECK_THROW(SchedulerConfig::parse(R"({"trained_betas": [0.1, 0.2]})", "x.json"), pbench::InputError);
}

BOOST_AUTO_TEST_CASE(schedules_are_float32_and_monotone) {
  for (const char* schedule : {"linear", "scaled_linear", "squaredcos_cap_v2"}) {
    SchedulerConfig c = sd15();
    c.beta_schedule = schedule;
    NoiseSchedule s(c);
    BOOST_TEST(s.alphas_cumprod.scalar_type() == torch::kFloat32);
    BOOST_TEST(s.alphas_cumprod.size(0) == 1000);
    auto acp = s.alphas_cumprod;
    BOOST_TEST((acp.slice(0, 1) < acp.slice(0, 0, -1)).all().item<bool>(), schedule);
    BOOST_TEST((acp > 0).all().item<bool>());
    BOOST_TEST((acp < 1).all().item<bool>());
  }
  SchedulerConfig c = sd15();
  NoiseSchedule s(c);
  BOOST_TEST(std::abs(s.betas[0].item<double>() - 0.00085) < 1e-9);
  BOOST_TEST(std::abs(s.betas[-1].item<double>() - 0.012) < 1e-8);
  c.rescale_betas_zero_snr = true;
  BOOST_TEST(NoiseSchedule(c).alphas_cumprod[-1].item<double>() == 0.0);  // zero terminal SNR
}

BOOST_AUTO_TEST_CASE(timestep_spacings) {
  SchedulerConfig c = sd15();
  BOOST_TEST(inference_timesteps(c, 10) == (std::vector<int64_t>{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}),
             boost::test_tools::per_element());
  c.timestep_spacing = "trailing";
  BOOST_TEST(inference_timesteps(c, 10) == (std::vector<int64_t>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}),
             boost::test_tools::per_element());
  // numpy's float arange fills start + i * ((start + step) - start); for
  // n = 48 four timesteps come out one lower than with i * step (values from numpy 1.24).
  auto t48 = inference_timesteps(c, 48);
  BOOST_REQUIRE_EQUAL(t48.size(), 48u);
  BOOST_TEST(t48[3] == 936);
  BOOST_TEST(t48[15] == 686);
  BOOST_TEST(t48[47] == 20);
  c.timestep_spacing = "linspace";
  BOOST_TEST(inference_timesteps(c, 10) == (std::vector<int64_t>{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}),
             boost::test_tools::per_element());
  BOOST_CHECK_THROW(inference_timesteps(c, 1001), pbench::InputError);

  DDIMInverseScheduler inv(sd15());
  inv.set_timesteps(4);
  BOOST_TEST(vec(inv.timesteps()) == (std::vector<int64_t>{1, 251, 501, 751}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(add_noise_with_zero_noise_scales_by_sqrt_alpha_cumprod) {
  NoiseSchedule s(sd15());
  torch::manual_seed(1);
  auto x = torch::randn({2, 4, 3, 3});
  auto t = torch::tensor({10, 700}, torch::kInt64);
  auto y = s.add_noise(x, torch::zeros_like(x), t);
  BOOST_TEST(torch::allclose(y[0], x[0] * std::sqrt(s.alphas_cumprod[10].item<double>()), 0, 1e-7));
  BOOST_TEST(torch::allclose(y[1], x[1] * std::sqrt(s.alphas_cumprod[700].item<double>()), 0, 1e-7));
  // With pure noise (x = 0) the scale is sqrt(1 - acp).
  auto n = s.add_noise(torch::zeros_like(x), x, t);
  BOOST_TEST(torch::allclose(n[1], x[1] * std::sqrt(1 - s.alphas_cumprod[700].item<double>()), 0, 1e-7));
}

BOOST_AUTO_TEST_CASE(inverse_step_undoes_a_deterministic_ddim_step) {
  DDIMScheduler ddim(sd15());
  DDIMInverseScheduler inv(sd15());
  ddim.set_timesteps(50);
  inv.set_timesteps(50);
  torch::manual_seed(2);
  auto x_t = torch::randn({2, 4, 8, 8});
  auto eps = torch::randn({2, 4, 8, 8});
  for (int64_t i : {1, 25, 48}) {
    const int64_t t = ddim.timesteps()[i].item<int64_t>();
    auto down = ddim.step(eps, t, x_t, /*eta=*/0.0);
    auto up = inv.step(eps, t, down.prev_sample);  // t is the inverse step's target
    BOOST_TEST((up.prev_sample - x_t).abs().max().item<double>() < 1e-5, "t=" << t);
    BOOST_TEST(torch::allclose(up.pred_original_sample, down.pred_original_sample, 0, 1e-4));
  }
}

BOOST_AUTO_TEST_CASE(v_prediction_recovers_the_clean_sample) {
  SchedulerConfig c = sd15();
  c.prediction_type = "v_prediction";
  DDIMScheduler ddim(c);
  ddim.set_timesteps(25);
  torch::manual_seed(3);
  auto x0 = torch::randn({1, 4, 4, 4}), noise = torch::randn({1, 4, 4, 4});
  auto t = torch::tensor({561}, torch::kInt64);
  auto x_t = ddim.schedule().add_noise(x0, noise, t);
  auto v = ddim.schedule().get_velocity(x0, noise, t);
  auto out = ddim.step(v, 561, x_t);
  BOOST_TEST((out.pred_original_sample - x0).abs().max().item<double>() < 1e-5);
}

BOOST_AUTO_TEST_CASE(ddim_eta_uses_the_given_noise_and_ddpm_adds_none_at_t0) {
  DDIMScheduler ddim(sd15());
  ddim.set_timesteps(10);
  torch::manual_seed(4);
  auto x = torch::randn({1, 4, 4, 4}), eps = torch::randn({1, 4, 4, 4}), z = torch::randn({1, 4, 4, 4});
  auto a = ddim.step(eps, 501, x, 1.0, false, z);
  auto b = ddim.step(eps, 501, x, 1.0, false, z);
  auto c = ddim.step(eps, 501, x, 1.0, false, -z);
  BOOST_TEST(torch::equal(a.prev_sample, b.prev_sample));
  BOOST_TEST(!torch::allclose(a.prev_sample, c.prev_sample));

  DDPMScheduler ddpm(sd15());
  auto p0 = ddpm.step(eps, 0, x, z), p1 = ddpm.step(eps, 0, x, -z);
  BOOST_TEST(torch::equal(p0.prev_sample, p1.prev_sample));  // no noise at t = 0
  BOOST_TEST(ddpm.previous_timestep(500) == 499);
  ddpm.set_timesteps(50);
  BOOST_TEST(ddpm.previous_timestep(500) == 480);
  BOOST_CHECK_THROW(ddpm.step(eps, 1000, x, z), pbench::InputError);
}
