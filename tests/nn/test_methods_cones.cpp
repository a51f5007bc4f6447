#define BOOST_TEST_MODULE methods_cones
// Cones (arXiv 2303.05125, re-implemented from the paper) on builtin:tiny: the method contract;
// each candidate neuron's score is θ · ∂L/∂θ, computed here from the plain model's gradient; the
// shutting rule (a running sum of scores above τ) against its definition; shutting the best-scored
// neurons lowers the concept loss, as the first-order test promises; and a malformed delta refused.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "framework/h5/h5.hpp"
#include "tests/nn/method_test_kit.hpp"
#include "tests/support/run_program.hpp"

using namespace pbench;
using namespace pbench::test;
namespace fs = std::filesystem;

namespace {

const std::string kLayer = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k";

torch::Tensor loss_on(models::Pipeline& p, const Batch& b) {
  return torch::mse_loss(p.unet->forward(b.sample, b.timestep, models::encode_token_ids(p, b.ids).detach()), b.target);
}

// By value: named_parameters() builds a dict each call, so a reference into it would dangle.
torch::Tensor scale_of(models::Pipeline& p) {
  for (const auto& ref : nn::adaptable_layers(*p.unet))
    if (ref.name == kLayer) return ref.module->named_children()["cones"]->named_parameters(false)["scale"];
  throw std::logic_error("no layer " + kLayer);
}

}  // namespace

BOOST_AUTO_TEST_CASE(contract) {
  ContractOptions options;
  options.delta_is_trainable = false;  // the delta is the shut neurons' indices, not the scores' scales
  check_method_contract("name: cones\nthreshold: 0.0\nprior_preservation: false\n", options);
}

BOOST_AUTO_TEST_CASE(a_neurons_score_is_theta_times_the_loss_gradient_and_the_sum_above_tau_shuts_it) {
  models::Pipeline plain = small_pipeline();
  const Batch b = make_batch(plain);
  // The plain model's ∂L/∂θ for the layer's weight.
  torch::Tensor weight;
  for (const auto& ref : nn::adaptable_layers(*plain.unet))
    if (ref.name == kLayer) weight = ref.weight();
  freeze_pipeline(plain);
  weight.set_requires_grad(true);
  loss_on(plain, b).backward();
  const torch::Tensor expected_score = (weight * weight.grad()).detach();

  models::Pipeline p = small_pipeline();
  auto method = read_method(method_yaml("name: cones\nprior_preservation: false\nthreshold: 1.0e-6\n")).build();
  MethodTarget target{p, nullptr};
  method->attach(target);
  loss_on(p, b).backward();
  torch::Tensor scale = scale_of(p);
  BOOST_TEST(torch::allclose(scale.grad(), expected_score, 1e-5, 1e-7));
  method->after_step(0);
  // Shut exactly where the (first) score passed τ.
  BOOST_TEST(torch::equal(scale.detach() == 0, expected_score > 1e-6));
  BOOST_TEST((scale.detach() == 0).sum().item<int64_t>() > 0);
  // A second step adds its scores (same batch, now on the model with those shut).
  const torch::Tensor first = scale.grad().clone();
  scale.mutable_grad() = torch::Tensor();
  loss_on(p, b).backward();
  const torch::Tensor sum = first + scale.grad();
  const torch::Tensor was_shut = scale.detach() == 0;
  method->after_step(1);
  BOOST_TEST(torch::equal(scale.detach() == 0, was_shut | (sum > 1e-6)));
  // The delta is those indices, and loading it shuts the same neurons in a fresh attach.
  const TensorMap delta = method->delta();
  BOOST_TEST(delta.at("unet." + kLayer + ".cones.closed").numel() == (scale == 0).sum().item<int64_t>());
  BOOST_TEST((delta.at("unet." + kLayer + ".cones.closed").scalar_type() == torch::kInt32));
  models::Pipeline fresh = small_pipeline();
  auto reloaded = read_method(method_yaml("name: cones\nprior_preservation: false\n")).build();
  MethodTarget fresh_target{fresh, nullptr};
  reloaded->attach(fresh_target);
  reloaded->load_delta(delta);
  BOOST_TEST(torch::equal(scale_of(fresh) == 0, scale.detach() == 0));
}

BOOST_AUTO_TEST_CASE(shutting_the_best_scored_neurons_lowers_the_concept_loss) {
  models::Pipeline p = small_pipeline();
  const Batch b = make_batch(p);
  auto method = read_method(method_yaml("name: cones\nprior_preservation: false\ntargets: [" + kLayer + "]\n")).build();
  MethodTarget target{p, nullptr};
  method->attach(target);
  const torch::Tensor before = loss_on(p, b);
  before.backward();
  torch::Tensor scale = scale_of(p);
  const torch::Tensor score = scale.grad().reshape({-1});
  const auto top = score.topk(20);
  BOOST_REQUIRE(std::get<0>(top).min().item<double>() > 0);
  torch::NoGradGuard no_grad;
  scale.view({-1}).index_fill_(0, std::get<1>(top), 0.0);
  const double after = loss_on(p, b).item<double>();
  // First order: the loss falls by about the shut neurons' summed score.
  BOOST_TEST(after < before.item<double>());
  const double predicted = before.item<double>() - std::get<0>(top).sum().item<double>();
  BOOST_TEST(std::abs(after - predicted) < 0.5 * std::get<0>(top).sum().item<double>());
}

BOOST_AUTO_TEST_CASE(a_malformed_delta_is_refused_before_any_scale_changes) {
  models::Pipeline p = small_pipeline();
  auto method = read_method(method_yaml("name: cones\n")).build();
  MethodTarget target{p, nullptr};
  method->attach(target);
  TensorMap good = method->delta();
  const std::string key = "unet." + kLayer + ".cones.closed";
  TensorMap out_of_range = good, floats = good, missing = good;
  out_of_range[key] = torch::tensor({int32_t(scale_of(p).numel())}, torch::kInt32);
  floats[key] = torch::zeros({2});
  missing.erase(key);
  for (const TensorMap* bad : {&out_of_range, &floats, &missing})
    BOOST_CHECK_THROW(method->load_delta(*bad), InputError);
  BOOST_TEST((scale_of(p) == 1).all().item<bool>());
  good[key] = torch::tensor({0, 5}, torch::kInt32);
  method->load_delta(good);
  BOOST_TEST((scale_of(p) == 0).sum().item<int64_t>() == 2);
}

BOOST_AUTO_TEST_CASE(a_runs_params_give_the_trained_deltas_size) {
  // Cones' delta grows with the neurons it shuts, so /params is rewritten after training: its
  // delta_bytes_fp32 is the saved delta's payload, 4 bytes a shut neuron.
  const fs::path scratch = scratch_dir("cones_run");
  const std::string run_sweep = (binary_dir() / "bin" / "run_sweep").string();
  const int rc = run_program({run_sweep, (source_dir() / "experiments" / "tiny.yaml").string(), "method=cones",
                              "++method.threshold=0.0", "++method.prior_preservation=false", "dataset.subject=red_cube",
                              "train.steps=2", "++eval.enabled=false", "dvar.mode=off", "--results",
                              (scratch / "r").string(), "--jobs", "1"},
                             scratch / "log.txt", scratch / "log.txt");
  BOOST_TEST_INFO(std::ifstream(scratch / "log.txt").rdbuf());
  BOOST_REQUIRE(rc == 0);
  fs::path run, delta;
  for (const auto& e : fs::directory_iterator(scratch / "r" / "tiny" / "runs")) {
    if (e.path().extension() == ".h5") run = e.path();
    if (e.path().string().size() > 18 && e.path().string().find(".delta.safetensors") != std::string::npos) delta = e.path();
  }
  BOOST_REQUIRE(!run.empty());
  BOOST_REQUIRE(!delta.empty());
  int64_t shut = 0;
  for (const auto& [key, t] : load_safetensors(delta)) shut += t.numel();
  BOOST_TEST(shut > 0);
  h5::Handle file = h5::open_file(run.string(), false);
  BOOST_TEST(h5::attr_int(h5::open_group(file.id(), "params").id(), "delta_bytes_fp32") == 4 * shut);
}
