#define BOOST_TEST_MODULE delta_merge
// Multi-concept composition (Method::merge_deltas, `pbench merge-delta`) on builtin:tiny: LoRA's
// merge is the weighted sum of the updates, checked on a layer's output against Σ w_k ΔW_k x;
// Cones' is the union of the shut neurons; Custom Diffusion's constrained least squares is checked
// against an independent KKT solve, then on builtin:tiny: each concept's phrases map through the
// merged K/V as under its own weights; a method without a rule, weights where none apply and
// deltas of other layers are refused. (Perfusion's is in test_methods_perfusion.cpp.)
#include <boost/test/unit_test.hpp>

#include "methods/constrained_merge.hpp"
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

  const MergedDelta merged = read_method(method_yaml(a_yaml)).build()->merge_deltas({a, b}, MergeContext{{1.0, 0.5}});
  BOOST_TEST(merged.load_options.at("rank") == "5");
  BOOST_TEST(merged.load_options.at("alpha") == "5");
  const torch::Tensor both = applied("name: lora\nrank: 5\nalpha: 5.0\ntargets: [attn2.to_k]\n", merged.tensors);
  BOOST_TEST(torch::allclose(both, ua + 0.5 * ub, 1e-4, 1e-6));

  // Deltas of other layers are refused, naming the missing tensor.
  const TensorMap other = random_lora("name: lora\nrank: 2\nalpha: 1.0\ntargets: [attn2.to_v]\n", 4);
  BOOST_CHECK_THROW(read_method(method_yaml(a_yaml)).build()->merge_deltas({a, other}, MergeContext{{1.0, 1.0}}), InputError);
}

BOOST_AUTO_TEST_CASE(cones_merges_to_the_union_of_the_shut_neurons) {
  models::Pipeline p = small_pipeline();
  auto cones = attached(p, "name: cones\nprior_preservation: false\n");
  TensorMap a = cones->delta(), b = cones->delta();
  const std::string key = "unet." + kLayer + ".cones.closed";
  a.at(key) = torch::tensor({7, 3, 11}, torch::kInt32);
  b.at(key) = torch::tensor({3, 5}, torch::kInt32);
  const MergedDelta merged = cones->merge_deltas({a, b}, MergeContext{{1.0, 1.0}});
  BOOST_TEST(torch::equal(merged.tensors.at(key), torch::tensor({3, 5, 7, 11}, torch::kInt32)));
  BOOST_TEST(merged.tensors.size() == a.size());
  // The union loads: those four neurons shut in that layer.
  cones->load_delta(merged.tensors);
  BOOST_TEST(cones->delta().at(key).numel() == 4);
  BOOST_CHECK_THROW(cones->merge_deltas({a, b}, MergeContext{{1.0, 0.5}}), InputError);  // no weights in a union
}

BOOST_AUTO_TEST_CASE(a_method_without_a_composition_rule_says_so) {
  auto svdiff = read_method(method_yaml("name: svdiff\n")).build();
  BOOST_CHECK_THROW(svdiff->merge_deltas({TensorMap{}, TensorMap{}}, MergeContext{{1.0, 1.0}}), InputError);
}

// ---- Custom Diffusion's constrained merge (arXiv 2212.04488 §3.2) ---------------------------

// The closed form against an independent solve: each output row w of W minimises
// (w − w0)ᵀ G (w − w0), G = C_regᵀ C_reg, subject to C w = v; its KKT system is
// [G Cᵀ; C 0] [w; μ] = [G w0; v].
BOOST_AUTO_TEST_CASE(the_constrained_merge_is_the_constrained_least_squares_solution) {
  using peft::constrained_merge;
  using peft::regularization_gram_inverse;
  torch::manual_seed(5);
  const auto f64 = torch::kFloat64;
  const torch::Tensor w0 = torch::randn({6, 5}, f64), reg = torch::randn({40, 5}, f64),
                      targets = torch::randn({3, 5}, f64), values = torch::randn({3, 6}, f64);
  const torch::Tensor merged = constrained_merge(w0, targets, values, regularization_gram_inverse(reg, 0.0));
  BOOST_TEST(torch::allclose(merged.matmul(targets.t()), values.t(), 1e-9, 1e-9));  // every constraint holds
  const torch::Tensor g = reg.t().matmul(reg);
  const torch::Tensor kkt =
      torch::cat({torch::cat({g, targets.t()}, 1), torch::cat({targets, torch::zeros({3, 3}, f64)}, 1)});
  for (int64_t r = 0; r < w0.size(0); ++r) {
    const torch::Tensor w = at::linalg_solve(kkt, torch::cat({g.matmul(w0[r]), values.select(1, r)})).slice(0, 0, 5);
    BOOST_TEST(torch::allclose(merged[r], w, 1e-8, 1e-8), "row " << r);
  }
  // A ridge changes which solution the objective prefers, never the constraints.
  const torch::Tensor ridged = constrained_merge(w0, targets, values, regularization_gram_inverse(reg, 1e-1));
  BOOST_TEST(torch::allclose(ridged.matmul(targets.t()), values.t(), 1e-9, 1e-9));
  BOOST_TEST(!torch::allclose(ridged, merged, 1e-6, 1e-6));
  BOOST_CHECK_THROW(constrained_merge(w0, targets, values.t(), regularization_gram_inverse(reg, 0.0)), InputError);
}

BOOST_AUTO_TEST_CASE(repeated_target_rows_are_dropped) {
  const torch::Tensor rows = torch::tensor({1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 5.0, 6.0}).reshape({4, 2});
  BOOST_TEST(peft::distinct_rows(rows) == std::vector<int64_t>({0, 1, 3}), boost::test_tools::per_element());
}

namespace {

const std::string kTokenRows = "text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens";

// A Custom Diffusion delta as a trained one differs from its start: K/V and the token row moved.
TensorMap moved_custom_diffusion(int64_t seed) {
  models::Pipeline p = small_pipeline();
  TensorMap delta = attached(p, "name: custom_diffusion\n")->delta();
  torch::manual_seed(seed);
  for (auto& [key, t] : delta) t = t + torch::randn(t.sizes()) * 0.2 * t.std().item<double>();
  return delta;
}

// The last hidden state of `prefix + phrase` at the phrase's rows (its first token to EOT).
torch::Tensor phrase_rows(models::Pipeline& p, const std::string& prefix, const std::string& phrase) {
  torch::NoGradGuard no_grad;
  const torch::Tensor hidden = models::encode_token_ids(p, models::prompt_token_ids(p, {prefix + phrase}))[0];
  const auto first = int64_t(1 + p.tokenizer->tokenize_ids(prefix).size());
  const auto eot = int64_t(1 + p.tokenizer->tokenize_ids(prefix + phrase).size());
  return hidden.slice(0, first, eot + 1);
}

torch::Tensor layer_output(models::Pipeline& p, const std::string& layer, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return dynamic_cast<nn::LinearImpl*>(p.unet->named_modules()[layer].get())->forward(x);
}

}  // namespace

BOOST_AUTO_TEST_CASE(custom_diffusion_merges_two_concepts_so_each_keeps_its_keys_and_values) {
  const std::vector<TensorMap> own = {moved_custom_diffusion(1), moved_custom_diffusion(2)};
  const std::vector<std::string> nouns = {"cube", "ball"};
  models::Pipeline base = small_pipeline();
  const int64_t vocab = base.tokenizer->vocab_size();
  MergeContext context({1.0, 1.0});
  context.base_model = [&]() -> models::Pipeline& { return base; };
  context.class_noun = [&](size_t k) { return nouns.at(k); };
  const auto method = read_method(method_yaml("name: custom_diffusion\n")).build();
  const MergedDelta merged = method->merge_deltas(own, context);
  // The base model is left as found; the concepts are renamed <new1>, <new2> and both kept.
  BOOST_TEST(base.tokenizer->vocab_size() == vocab);
  BOOST_TEST(!base.text_encoder->text_model->embeddings->token_embedding->adapted());
  BOOST_TEST(merged.load_options.at("modifier_token") == "\"<new1>+<new2>\"");
  BOOST_REQUIRE(merged.concept_options.size() == 2u);
  BOOST_TEST(merged.concept_options[1].at("modifier_token") == "\"<new2>\"");
  BOOST_TEST(torch::equal(merged.tensors.at(kTokenRows), torch::cat({own[0].at(kTokenRows), own[1].at(kTokenRows)})));

  // Loaded as the merge says, each concept's phrases ("<newk> noun", "a photo of <newk> noun")
  // map through every K/V layer as under the concept's own weights; the base's map otherwise.
  models::Pipeline both = small_pipeline();
  attached(both, "name: custom_diffusion\nmodifier_token: \"<new1>+<new2>\"\n")->load_delta(merged.tensors);
  int64_t layers = 0;
  for (size_t k = 0; k < own.size(); ++k) {
    models::Pipeline alone = small_pipeline();
    attached(alone, "name: custom_diffusion\n")->load_delta(own[k]);
    models::Pipeline frozen = small_pipeline();
    const std::string merged_phrase = "<new" + std::to_string(k + 1) + "> " + nouns[k];
    for (const std::string prefix : {"", "a photo of "}) {
      const torch::Tensor rows = phrase_rows(both, prefix, merged_phrase);
      // Same token row, same frozen encoder: the same features as in the concept's own model.
      BOOST_TEST(torch::allclose(rows, phrase_rows(alone, prefix, "<new1> " + nouns[k]), 1e-5, 1e-5));
      for (const auto& [key, t] : own[k]) {
        if (key == kTokenRows) continue;
        const std::string layer = key.substr(std::string("unet.").size(), key.size() - 5 - std::string(".weight").size());
        const torch::Tensor want = layer_output(alone, layer, rows);
        const double error = (layer_output(both, layer, rows) - want).abs().max().item<double>();
        const double fine_tune = (layer_output(frozen, layer, rows) - want).abs().max().item<double>();
        BOOST_TEST(error < 1e-3 * fine_tune, key << " error " << error << " vs the fine-tune's own effect " << fine_tune);
        ++layers;
      }
    }
  }
  BOOST_TEST(layers == 2 * 2 * int64_t(own[0].size() - 1));

  // Refused: bare deltas (no base model), weights, and deltas of other layers.
  BOOST_CHECK_THROW(method->merge_deltas(own, MergeContext{{1.0, 1.0}}), InputError);
  MergeContext weighted = context;
  weighted.weights = {1.0, 0.5};
  BOOST_CHECK_THROW(method->merge_deltas(own, weighted), InputError);
  TensorMap fewer = own[1];
  fewer.erase(std::prev(fewer.end(), 2));
  BOOST_CHECK_THROW(method->merge_deltas({own[0], fewer}, context), InputError);
}
