#define BOOST_TEST_MODULE methods_continual
// C-LoRA (arXiv 2304.06027): the contract, the frozen past tasks, and the
// self-regularization checked against the formula computed from the delta files.
#include <boost/test/unit_test.hpp>

#include "framework/util/strings.hpp"
#include "methods/factorizations.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Method> attach_c_lora(models::Pipeline& p, const std::string& yaml) {
  auto m = read_method(method_yaml("name: c_lora\nrank: 2\nalpha: 1\n" + yaml)).build();
  MethodTarget t{p, nullptr};
  m->attach(t);
  return m;
}

// `steps` AdamW steps on the denoising loss plus the method's extra loss.
void train(Method& m, models::Pipeline& p, const Batch& b, int steps) {
  std::vector<torch::Tensor> params;
  for (auto& g : m.parameter_groups(1e-3)) params.insert(params.end(), g.params.begin(), g.params.end());
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(1e-2).weight_decay(0));
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    torch::Tensor loss = torch::mse_loss(forward(p, b), b.target);
    if (torch::Tensor extra = m.extra_loss(); extra.defined()) loss = loss + extra;
    loss.backward();
    opt.step();
  }
}

// ΔW = (alpha / r) · up · down of every adapted layer in a delta (alpha 1, r 2 here).
std::map<std::string, torch::Tensor> updates(const TensorMap& delta) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [key, t] : delta) {
    if (!ends_with(key, ".c_lora.down")) continue;
    const std::string layer = key.substr(0, key.size() - 5);
    out[layer] = peft::low_rank_product(delta.at(layer + ".up"), t) * 0.5;
  }
  return out;
}

// Σ ‖ |P| ⊙ ΔW ‖²_F over the layers, from the two tasks' delta files alone.
double forget_formula(const TensorMap& past, const TensorMap& now) {
  const auto p = updates(past), d = updates(now);
  double total = 0;
  for (const auto& [layer, w] : d) total += (p.at(layer).abs() * w).pow(2).sum().item<double>();
  return total;
}

// Task 1 trained a few steps and saved; returns its delta file.
fs::path first_task(const std::string& name, TensorMap* delta_out = nullptr) {
  models::Pipeline p = small_pipeline();
  auto m = attach_c_lora(p, "placeholder: <task1>\n");
  train(*m, p, make_batch(p, "a photo of <task1>"), 4);
  const fs::path file = scratch_dir("c_lora_" + name) / "task1.delta.safetensors";
  save_safetensors(file, m->delta());
  if (delta_out) *delta_out = m->delta();
  return file;
}

}  // namespace

BOOST_AUTO_TEST_CASE(c_lora_contract) { check_method_contract("name: c_lora\nrank: 2\n"); }

BOOST_AUTO_TEST_CASE(c_lora_adapts_only_cross_attention_keys_values_and_its_token) {
  models::Pipeline p = small_pipeline();
  auto m = attach_c_lora(p, "");
  int64_t layers = 0;
  for (const auto& key : delta_keys(*m)) {
    if (key == "<c_lora>") continue;
    BOOST_TEST((key.find(".attn2.to_k.c_lora.") != std::string::npos || key.find(".attn2.to_v.c_lora.") != std::string::npos), key);
    layers += ends_with(key, ".c_lora.down");
  }
  int64_t cross_kv = 0;  // the UNet's cross-attention key and value projections, counted from its layer names
  for (const auto& ref : nn::adaptable_layers(*p.unet)) {
    const std::string& n = ref.name;
    cross_kv += ends_with(n, ".attn2.to_k") || ends_with(n, ".attn2.to_v");
  }
  BOOST_TEST(cross_kv > 0);
  BOOST_TEST(layers == cross_kv);
  BOOST_TEST(m->delta().count("<c_lora>") == 1u);
  BOOST_TEST(!m->extra_loss().defined());  // the first task: no penalty
  // The token row starts random (not a word's row, not zero) and the class word is dropped.
  BOOST_TEST(m->delta().at("<c_lora>").abs().sum().item<double>() > 0.0);
  SubjectData dog{"", "", "dog", "sks", false, {}, {}, "a sks dog", "", {}};
  BOOST_TEST(m->eval_prompt("a sks dog on the beach", dog) == "a <c_lora> on the beach");
  BOOST_TEST(m->train_prompt(dog) == "a photo of <c_lora>");
}

BOOST_AUTO_TEST_CASE(c_lora_past_tasks_are_frozen_and_still_drawn) {
  // After attaching task 2 over task 1's delta, task 1's prompt gives task 1's trained output:
  // its update is in the past sum and its token is in the tokenizer with its learned row.
  TensorMap delta1;
  const fs::path file = first_task("frozen", &delta1);
  models::Pipeline p1 = small_pipeline();
  auto task1 = attach_c_lora(p1, "placeholder: <task1>\n");
  task1->load_delta(delta1);
  models::Pipeline p2 = small_pipeline();
  auto task2 = attach_c_lora(p2, "placeholder: <task2>\npast: [" + file.string() + "]\n");
  const Batch b1 = make_batch(p1, "a photo of <task1>"), b2 = make_batch(p2, "a photo of <task1>");
  BOOST_TEST(torch::equal(b1.ids, b2.ids));
  {
    torch::NoGradGuard ng;
    // Equal up to float rounding: the past update runs as its own product here, inside the LoRA there.
    BOOST_TEST((forward(p1, b1) - forward(p2, b2)).abs().max().item<double>() <= 1e-5);
  }
  // Only task 2's factors and token train; task 1's token row is not a trainable tensor.
  const auto trainable = trainable_set(*task2);
  BOOST_TEST(trainable.size() == delta1.size());  // same layers, one token each
  for (const auto& [key, t] : task2->delta()) BOOST_TEST(key.find("task1") == std::string::npos, key);
  // A run also counts its method on the SD v1.5 architecture (shapes only): the past, made on the
  // run's model, is skipped there, and the count is one task's.
  models::Pipeline sd15 = models::sd15_meta_pipeline();
  BOOST_TEST(count_method(read_method(method_yaml("name: c_lora\nrank: 2\nplaceholder: <task2>\npast: [" +
                                                  file.string() + "]\n")),
                          sd15)
                 .trainable == 49536 * 2 + 768);
  // The same placeholder twice, a missing file, another rank: refused when attaching.
  models::Pipeline p3 = small_pipeline();
  BOOST_CHECK_THROW(attach_c_lora(p3, "placeholder: <task1>\npast: [" + file.string() + "]\n"), InputError);
  models::Pipeline p4 = small_pipeline();
  BOOST_CHECK_THROW(attach_c_lora(p4, "placeholder: <t>\npast: [/no/such.safetensors]\n"), InputError);
  models::Pipeline p5 = small_pipeline();
  BOOST_CHECK_THROW(read_method(method_yaml("name: c_lora\nrank: 3\npast: [" + file.string() + "]\n")).build()->attach(
                        *std::make_unique<MethodTarget>(MethodTarget{p5, nullptr})),
                    InputError);
}

BOOST_AUTO_TEST_CASE(c_lora_self_regularization_is_the_weighted_product_with_the_past_sum) {
  TensorMap delta1;
  const fs::path file = first_task("penalty", &delta1);
  const std::string past = "past: [" + file.string() + "]\n";
  models::Pipeline p = small_pipeline();
  auto task2 = attach_c_lora(p, "placeholder: <task2>\nself_regularization: 3.0\n" + past);
  BOOST_TEST(task2->extra_loss().item<double>() == 0.0);  // ΔW_2 = 0 at init
  train(*task2, p, make_batch(p, "a photo of <task2>"), 3);
  const double expected = 3.0 * forget_formula(delta1, task2->delta());
  BOOST_TEST(expected > 0.0);
  BOOST_TEST(task2->extra_loss().item<double>() == expected, boost::test_tools::tolerance(1e-4));

  // The mechanism: with a strong λ the new update stays off the entries the past task uses.
  auto overlap_after = [&](double lambda) {
    models::Pipeline q = small_pipeline();
    auto m = attach_c_lora(q, "placeholder: <task2>\nself_regularization: " + std::to_string(lambda) + "\n" + past);
    train(*m, q, make_batch(q, "a photo of <task1> and <task2>"), 8);
    return forget_formula(delta1, m->delta());
  };
  const double free_overlap = overlap_after(0.0), regularized = overlap_after(1e6);
  BOOST_TEST_MESSAGE("L_forget after 8 steps: lambda 0 " << free_overlap << ", lambda 1e6 " << regularized);
  BOOST_TEST(regularized < 0.5 * free_overlap, "overlap with λ=1e6 " << regularized << " vs λ=0 " << free_overlap);
}
