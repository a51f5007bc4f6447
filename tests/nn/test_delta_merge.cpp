#define BOOST_TEST_MODULE delta_merge
// Multi-concept composition (Method::merge_deltas, `pbench merge-delta`) on builtin:tiny: LoRA's
// merge is the weighted sum of the updates, checked on a layer's output against Σ w_k ΔW_k x;
// Cones' is the union of the shut neurons; a method without a rule, weights where none apply and
// deltas of other layers are refused. (Perfusion's is in test_methods_perfusion.cpp.)
#include <boost/test/unit_test.hpp>

#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

const std::string kLayer = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k";

std::unique_ptr<Method> attached(models::Pipeline& p, const std::string& yaml) {
  auto m = read_method(method_yaml(yaml)).build();
  MethodTarget target{p, nullptr};
  m->attach(target);
  return m;
}

nn::AdaptableRef layer(models::Pipeline& p) {
  for (const auto& ref : nn::adaptable_layers(*p.unet))
    if (ref.name == kLayer) return ref;
  throw std::logic_error("no layer " + kLayer);
}

// ΔW x of the layer as the model computes it: its output minus the frozen W x.
torch::Tensor update_applied(models::Pipeline& p, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const nn::AdaptableRef ref = layer(p);
  auto* linear = dynamic_cast<nn::LinearImpl*>(ref.module);
  return linear->forward(x) - torch::nn::functional::linear(x, linear->weight);
}

// A LoRA delta with random factors (up is zero at init: a trained delta is not).
TensorMap random_lora(const std::string& yaml, int64_t seed) {
  models::Pipeline p = small_pipeline();
  auto m = attached(p, yaml);
  TensorMap delta = m->delta();
  torch::manual_seed(seed);
  for (auto& [key, t] : delta) t = torch::randn(t.sizes()) * 0.1;
  return delta;
}

}  // namespace

BOOST_AUTO_TEST_CASE(lora_merges_to_the_weighted_sum_of_the_updates) {
  const std::string a_yaml = "name: lora\nrank: 2\nalpha: 1.0\ntargets: [attn2.to_k]\n";
  const TensorMap a = random_lora(a_yaml, 1), b = random_lora("name: lora\nrank: 3\nalpha: 1.0\ntargets: [attn2.to_k]\n", 2);
  models::Pipeline probe = small_pipeline();
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({2, 5, layer(probe).weight().size(1)});
  // Each delta's own update, applied alone.
  auto applied = [&](const std::string& yaml, const TensorMap& delta) {
    models::Pipeline p = small_pipeline();
    attached(p, yaml)->load_delta(delta);
    return update_applied(p, x);
  };
  const torch::Tensor ua = applied(a_yaml, a), ub = applied("name: lora\nrank: 3\nalpha: 1.0\ntargets: [attn2.to_k]\n", b);
  BOOST_TEST(ua.abs().max().item<double>() > 0.0);

  const MergedDelta merged = read_method(method_yaml(a_yaml)).build()->merge_deltas({a, b}, {1.0, 0.5});
  BOOST_TEST(merged.load_options.at("rank") == "5");
  BOOST_TEST(merged.load_options.at("alpha") == "5");
  const torch::Tensor both = applied("name: lora\nrank: 5\nalpha: 5.0\ntargets: [attn2.to_k]\n", merged.tensors);
  BOOST_TEST(torch::allclose(both, ua + 0.5 * ub, 1e-4, 1e-6));

  // Deltas of other layers are refused, naming the missing tensor.
  const TensorMap other = random_lora("name: lora\nrank: 2\nalpha: 1.0\ntargets: [attn2.to_v]\n", 4);
  BOOST_CHECK_THROW(read_method(method_yaml(a_yaml)).build()->merge_deltas({a, other}, {1.0, 1.0}), InputError);
}

BOOST_AUTO_TEST_CASE(cones_merges_to_the_union_of_the_shut_neurons) {
  models::Pipeline p = small_pipeline();
  auto cones = attached(p, "name: cones\nprior_preservation: false\n");
  TensorMap a = cones->delta(), b = cones->delta();
  const std::string key = "unet." + kLayer + ".cones.closed";
  a.at(key) = torch::tensor({7, 3, 11}, torch::kInt32);
  b.at(key) = torch::tensor({3, 5}, torch::kInt32);
  const MergedDelta merged = cones->merge_deltas({a, b}, {1.0, 1.0});
  BOOST_TEST(torch::equal(merged.tensors.at(key), torch::tensor({3, 5, 7, 11}, torch::kInt32)));
  BOOST_TEST(merged.tensors.size() == a.size());
  // The union loads: those four neurons shut in that layer.
  cones->load_delta(merged.tensors);
  BOOST_TEST(cones->delta().at(key).numel() == 4);
  BOOST_CHECK_THROW(cones->merge_deltas({a, b}, {1.0, 0.5}), InputError);  // no weights in a union
}

BOOST_AUTO_TEST_CASE(a_method_without_a_composition_rule_says_so) {
  auto svdiff = read_method(method_yaml("name: svdiff\n")).build();
  BOOST_CHECK_THROW(svdiff->merge_deltas({TensorMap{}, TensorMap{}}, {1.0, 1.0}), InputError);
}
