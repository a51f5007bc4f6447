#define BOOST_TEST_MODULE methods_lora_svdiff
#include <boost/test/unit_test.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "methods/factorizations.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

BOOST_AUTO_TEST_CASE(lora_contract) {
  check_method_contract("name: lora\nrank: 2\nalpha: 4\n");
}

BOOST_AUTO_TEST_CASE(lora_with_text_encoder_contract) {
  check_method_contract("name: lora\nrank: 2\ntext_encoder: true\ntext_lr: 5.0e-4\n");
}

BOOST_AUTO_TEST_CASE(lora_places_factors_on_attention_projections_only) {
  models::Pipeline p = small_pipeline();
  auto m = methods().get("lora", "test").factory.create(method_yaml("name: lora\nrank: 3\ntext_encoder: true\n"));
  MethodTarget t{p, nullptr};
  m->attach(t);
  // Two tensors (down, up) per attention projection of the UNet and per q/k/v/out of each text layer.
  int unet = 0, text = 0;
  for (const auto& key : delta_keys(*m)) {
    bool is_factor = key.size() > 10 && (key.substr(key.size() - 10) == ".lora.down" || key.substr(key.size() - 8) == ".lora.up");
    BOOST_TEST(is_factor, key);
    if (key.rfind("unet.", 0) == 0) {
      ++unet;
      BOOST_TEST((key.find(".attn1.to_") != std::string::npos || key.find(".attn2.to_") != std::string::npos), key);
    } else {
      ++text;
      BOOST_TEST(key.find("text_encoder.text_model.encoder.layers.") == 0, key);
    }
  }
  BOOST_TEST(count_attention_projections(p) > 0);
  BOOST_TEST(unet == 2 * count_attention_projections(p));
  BOOST_TEST(text == 2 * 4 * p.text_encoder->config.encoder.num_layers);
  auto groups = m->parameter_groups(2e-4);
  BOOST_REQUIRE(groups.size() == 2u);
  BOOST_TEST(groups[0].lr == 1e-4);  // the method's lr key (paper default), not train.lr
  BOOST_TEST(groups[1].lr == 1e-4);  // text_lr null = the UNet lr
}

BOOST_AUTO_TEST_CASE(lora_rejects_pattern_selecting_nothing) {
  models::Pipeline p = small_pipeline();
  auto m = methods().get("lora", "test").factory.create(method_yaml("name: lora\ntargets: [to_qq]\n"));
  MethodTarget t{p, nullptr};
  BOOST_CHECK_THROW(m->attach(t), InputError);
}

BOOST_AUTO_TEST_CASE(lora_on_conv_layers_rewrites_the_weight) {
  check_method_contract("name: lora\nrank: 2\ntargets: [conv1, conv2, proj_in]\n");
}

BOOST_AUTO_TEST_CASE(svdiff_contract) {
  check_method_contract("name: svdiff\n");
}

BOOST_AUTO_TEST_CASE(svdiff_unet_only_contract) {
  check_method_contract("name: svdiff\ntext_encoder: false\n");
}

BOOST_AUTO_TEST_CASE(svdiff_prior_preservation_is_opt_in) {
  // svdiff-pytorch's --with_prior_preservation: off by default; on, 100 class images at weight 1.0.
  SubjectData dog{"builtin", "dog", "dog", "sks", false, {}, {}, "a sks dog", "a dog", {}};
  const auto& entry = methods().get("svdiff", "test");
  BOOST_TEST(!entry.factory.create(method_yaml("name: svdiff\n"))->regularization_set(dog).has_value());
  auto prior = entry.factory.create(method_yaml("name: svdiff\nprior_preservation: true\n"))->regularization_set(dog);
  BOOST_REQUIRE(prior.has_value());
  BOOST_TEST(prior->num_images == 100);
  BOOST_TEST(prior->loss_weight == 1.0);
  BOOST_TEST(prior->class_prompt == "a dog");
  auto weighted = entry.factory.create(method_yaml("name: svdiff\nprior_preservation: true\nprior_loss_weight: 0.5\n"
                                                   "class_prompt: a photo of a dog\n"))
                      ->regularization_set(dog);
  BOOST_TEST(weighted->loss_weight == 0.5);
  BOOST_TEST(weighted->class_prompt == "a photo of a dog");
}

BOOST_AUTO_TEST_CASE(svdiff_shift_lengths_equal_the_counting_rule) {
  models::Pipeline p = small_pipeline();
  auto m = methods().get("svdiff", "test").factory.create(method_yaml("name: svdiff\ntext_encoder: true\n"));
  MethodTarget t{p, nullptr};
  m->attach(t);
  auto delta = m->delta();
  // Every weight of the UNet and text encoder has exactly one shift vector of
  // length min(out, in*k*k) (matrices) or C (norm weights), computed from shapes
  // alone by the same rule the meta-device count uses.
  int64_t matrices = 0, norms = 0;
  for (auto& [prefix, root] : std::vector<std::pair<std::string, torch::nn::Module*>>{
           {"unet.", p.unet.ptr().get()}, {"text_encoder.", p.text_encoder.ptr().get()}}) {
    for (const auto& ref : nn::adaptable_layers(*root)) {
      std::string kind = ref.layer->layer_kind();
      auto it = delta.find(prefix + ref.name + ".svdiff.delta");
      BOOST_REQUIRE_MESSAGE(it != delta.end(), "no shift for " << ref.name);
      const torch::Tensor& base = ref.module->named_parameters(false)["weight"];
      if (kind == "group_norm" || kind == "layer_norm") {
        BOOST_TEST(it->second.numel() == base.numel());
        ++norms;
      } else {
        BOOST_TEST(it->second.numel() == peft::spectral_length(base), ref.name);
        torch::Tensor meta = torch::empty(base.sizes(), torch::TensorOptions().device(torch::kMeta));
        BOOST_TEST(peft::spectral_length(meta) == it->second.numel());
        ++matrices;
      }
    }
  }
  BOOST_TEST(int64_t(delta.size()) == matrices + norms);
  auto groups = m->parameter_groups(1.0);
  BOOST_REQUIRE(groups.size() == 2u);
  BOOST_TEST(groups[0].name == "spectral");
  BOOST_TEST(groups[0].lr == 1e-3);
  BOOST_TEST(groups[1].name == "norm_1d");
  BOOST_TEST(groups[1].lr == 1e-6);
}

BOOST_AUTO_TEST_CASE(svdiff_targets_need_a_match_in_one_of_the_two_modules) {
  // Patterns apply to the UNet and the text encoder: a UNet-only or a text-only one is fine,
  // one that matches nowhere is a typo and refused.
  const auto& entry = methods().get("svdiff", "test");
  for (const char* pattern : {"conv_in", "q_proj"}) {
    models::Pipeline p = small_pipeline();
    MethodTarget t{p, nullptr};
    entry.factory.create(method_yaml(std::string("name: svdiff\ntargets: [") + pattern + "]\n"))->attach(t);
  }
  models::Pipeline p = small_pipeline();
  MethodTarget t{p, nullptr};
  BOOST_CHECK_THROW(entry.factory.create(method_yaml("name: svdiff\ntargets: [conv_inn]\n"))->attach(t), InputError);
}

BOOST_AUTO_TEST_CASE(svdiff_shift_acts_on_singular_values) {
  // With δ = -σ_max on one weight, its spectral norm drops to the second singular value.
  models::Pipeline p = small_pipeline();
  auto m = methods().get("svdiff", "test").factory.create(method_yaml("name: svdiff\ntargets: [conv_in]\n"));
  MethodTarget t{p, nullptr};
  m->attach(t);
  auto delta = m->delta();
  const std::string key = "unet.conv_in.svdiff.delta";
  BOOST_REQUIRE(delta.count(key));
  auto& conv = *p.unet->named_modules()["conv_in"];
  torch::Tensor w = conv.named_parameters(false)["weight"].detach();
  torch::Tensor s = torch::linalg_svdvals(peft::as_matrix(w));
  torch::Tensor d = torch::zeros_like(s);
  d[0] = -s[0].item<double>() - 1.0;  // relu clips it to exactly zero
  delta[key] = d;
  m->load_delta(delta);
  auto* layer = dynamic_cast<nn::Conv2dImpl*>(&conv);
  BOOST_REQUIRE(layer);
  // Effective weight through the forward: conv of a unit impulse reads the kernel back.
  torch::NoGradGuard ng;
  auto attached = layer->attached();
  BOOST_REQUIRE(attached.size() == 1u);
  torch::Tensor w2 = attached[0].second->weight(layer->weight);
  torch::Tensor s2 = torch::linalg_svdvals(peft::as_matrix(w2));
  BOOST_TEST(std::abs(s2[0].item<double>() - s[1].item<double>()) < 1e-4);
  BOOST_TEST(s2.size(0) == s.size(0));
}

BOOST_AUTO_TEST_CASE(factorization_helpers) {
  using peft::split_dimension;
  BOOST_TEST((split_dimension(320, -1) == std::make_pair<int64_t, int64_t>(16, 20)));
  BOOST_TEST((split_dimension(768, -1) == std::make_pair<int64_t, int64_t>(24, 32)));
  BOOST_TEST((split_dimension(1280, 8) == std::make_pair<int64_t, int64_t>(8, 160)));
  BOOST_TEST((split_dimension(13, -1) == std::make_pair<int64_t, int64_t>(1, 13)));
  BOOST_TEST((split_dimension(100, 3) == std::make_pair<int64_t, int64_t>(2, 50)));  // 3 divides nothing: best m <= 3
  torch::Tensor w = torch::empty({320, 64, 3, 3});
  auto k = peft::kronecker_shapes(w, -1, 4);
  BOOST_TEST(k.w1_rows * k.w2_rows == 320);
  BOOST_TEST(k.w1_cols * k.w2_cols == 64 * 9);
  BOOST_TEST(!k.w2_full);
  BOOST_TEST(k.parameter_count() == k.w1_rows * k.w1_cols + 4 * (k.w2_rows + k.w2_cols));
  torch::Tensor a = torch::randn({2, 3}), b = torch::randn({4, 5});
  torch::Tensor kr = peft::kronecker(a, b);
  BOOST_TEST(kr.size(0) == 8);
  BOOST_TEST(kr.size(1) == 15);
  BOOST_TEST(kr[5][7].item<float>() == a[1][1].item<float>() * b[1][2].item<float>());
  BOOST_TEST(peft::spectral_length(torch::empty({320, 64, 3, 3})) == 320);
  BOOST_TEST(peft::spectral_length(torch::empty({1280, 320})) == 320);
}

BOOST_AUTO_TEST_CASE(kaiming_init_from_a_generator_equals_libtorchs_from_the_same_state) {
  // Independent reference: torch::nn::init::kaiming_uniform_(a = sqrt 5) draws from the
  // global generator; seeded alike, the run-owned stream must give the same values.
  for (std::vector<int64_t> shape : {std::vector<int64_t>{4, 96}, std::vector<int64_t>{3, 8, 3, 3}}) {
    torch::manual_seed(1234);
    torch::Tensor expected = torch::empty(shape);
    torch::nn::init::kaiming_uniform_(expected, std::sqrt(5.0));
    torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1234);
    torch::Tensor got = torch::empty(shape);
    peft::kaiming_uniform_init(got, gen);
    BOOST_TEST(torch::equal(got, expected));
  }
}

BOOST_AUTO_TEST_CASE(method_inits_come_from_the_targets_generator_not_the_global_one) {
  auto lora_down = [](int64_t run_seed, uint64_t global_seed) {
    models::Pipeline p = small_pipeline();
    auto m = methods().get("lora", "test").factory.create(method_yaml("name: lora\nrank: 2\n"));
    torch::manual_seed(global_seed);
    MethodTarget t{p, nullptr, method_init_generator(run_seed)};
    m->attach(t);
    for (const auto& [key, tensor] : m->delta())
      if (key.size() > 10 && key.substr(key.size() - 10) == ".lora.down") return tensor.clone();
    return torch::Tensor();
  };
  torch::Tensor a = lora_down(7, 1), b = lora_down(7, 2), c = lora_down(8, 1);
  BOOST_REQUIRE(a.defined());
  BOOST_TEST(torch::equal(a, b));   // the global generator's state does not matter
  BOOST_TEST(!torch::equal(a, c));  // the run's seed does
}
