#define BOOST_TEST_MODULE methods_perfusion
// Perfusion (arXiv 2305.01644, re-implemented) on builtin:tiny: the method contract; an edited
// layer against the paper's formula computed here (the gate at i* and away from it, train and
// inference β/τ); keys locked to W_K i_super through training while the value targets move; two
// concepts loaded from one merged delta and applied at once; the object-masked loss in the
// engine's batches. The SD v1.5 count (one concept = the paper's ~100 KB, C⁻¹ outside it) is in
// test_methods_sd15_counts.cpp.
#include <boost/test/unit_test.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "methods/key_locked_edit.hpp"
#include "methods/text_covariance.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

const std::string kValue = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v";
const std::string kKey = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k";
const std::string kYaml = "name: perfusion\nsuperclass: dog\ncovariance_caption_count: 300\n";

struct Layer {
  nn::AdaptableRef ref;
  std::shared_ptr<peft::KeyLockedEdit> edit;
};

Layer layer(models::Pipeline& p, const std::string& name) {
  for (const auto& ref : nn::adaptable_layers(*p.unet))
    if (ref.name == name)
      return {ref, std::dynamic_pointer_cast<peft::KeyLockedEdit>(ref.module->named_children()["perfusion"])};
  throw std::logic_error("no layer " + name);
}

torch::Tensor plain_linear(const Layer& l, const torch::Tensor& x) {
  return torch::nn::functional::linear(x, l.ref.weight());
}

// The layer's output for `x` as the model computes it (base output + the method's rewrite).
torch::Tensor layer_output(const Layer& l, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return l.edit->output(x, plain_linear(l, x));
}

std::unique_ptr<Method> attached(models::Pipeline& p, const std::string& yaml) {
  auto m = read_method(method_yaml(yaml)).build();
  MethodTarget target{p, nullptr};
  m->attach(target);
  return m;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

BOOST_AUTO_TEST_CASE(contract) {
  ContractOptions options;
  options.identity_at_init = false;    // the edit W(e - s i*) + g o* is not the identity at init
  options.delta_is_trainable = false;  // the delta also holds the locked keys and i*
  options.lr_scale = 10.0;
  check_method_contract("name: perfusion\nsuperclass: dog\ncovariance_caption_count: 300\n", options);
}

BOOST_AUTO_TEST_CASE(an_edited_layer_is_the_papers_gated_rank_one_edit) {
  models::Pipeline p = small_pipeline();
  auto method = attached(p, kYaml);
  const Layer v = layer(p, kValue);
  const TensorMap delta = method->delta();
  const torch::Tensor i_star = delta.at("perfusion.<perfusion>.input");
  const torch::Tensor o_star = delta.at("unet." + kValue + ".perfusion.<perfusion>.target");
  const torch::Tensor c_inv = peft::inverse_text_covariance(p, peft::mini_world_captions(300), {});
  const double energy = i_star.dot(c_inv.matmul(i_star)).item<double>();
  BOOST_TEST(energy > 0.0);

  torch::manual_seed(3);
  const torch::Tensor e = torch::randn({2, 5, i_star.size(0)});
  for (const bool training : {true, false}) {
    p.unet->train(training);
    const double beta = training ? 0.75 : 0.7, tau = training ? 0.1 : 0.15;
    // By hand, one token row at a time.
    torch::Tensor expected = torch::empty({2, 5, o_star.size(0)});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < 5; ++t) {
        const torch::Tensor row = e[b][t];
        const double s = row.dot(c_inv.matmul(i_star)).item<double>() / energy;
        expected[b][t] = plain_linear(v, row - s * i_star) + sigmoid((s - beta) / tau) * o_star;
      }
    BOOST_TEST(torch::allclose(layer_output(v, e), expected, 1e-4, 1e-5),
               "max |d| " << (layer_output(v, e) - expected).abs().max().item<double>() << " of max "
                          << expected.abs().max().item<double>());
    // At e = i*: s = 1, the output is the gated target alone.
    BOOST_TEST(torch::allclose(layer_output(v, i_star), sigmoid((1.0 - beta) / tau) * o_star, 1e-4, 1e-5));
  }
  // Evaluation variants sample the same model at other gate biases (the paper's fidelity/alignment front).
  BOOST_TEST((method->eval_variants() == std::vector<std::string>{"beta_0_6", "beta_0_75"}));
  method->select_eval_variant("beta_0_6");
  BOOST_TEST(torch::allclose(layer_output(v, i_star), sigmoid((1.0 - 0.6) / 0.15) * o_star, 1e-4, 1e-5));
  method->select_eval_variant("");
  BOOST_TEST(torch::allclose(layer_output(v, i_star), sigmoid((1.0 - 0.7) / 0.15) * o_star, 1e-4, 1e-5));
  BOOST_CHECK_THROW(method->select_eval_variant("beta_9"), std::invalid_argument);
  // The value target starts at W_V i_super; i* at i_super, the superclass word's encoding.
  BOOST_TEST(torch::allclose(o_star, plain_linear(v, i_star), 1e-5, 1e-6));
}

BOOST_AUTO_TEST_CASE(keys_stay_locked_to_the_superclass_while_values_and_the_embedding_train) {
  models::Pipeline p = small_pipeline();
  auto method = attached(p, kYaml);
  const TensorMap before = method->delta();
  for (const auto& g : method->parameter_groups(1e-3))
    for (const auto& t : g.params) BOOST_TEST(t.requires_grad());
  const Batch b = make_batch(p, "a photo of a <perfusion>");
  adamw_steps(*method, p, b, 3, 10.0);
  const TensorMap after = method->delta();
  const std::string key_target = "unet." + kKey + ".perfusion.<perfusion>.target";
  const std::string value_target = "unet." + kValue + ".perfusion.<perfusion>.target";
  BOOST_TEST(torch::equal(before.at(key_target), after.at(key_target)));
  BOOST_TEST(torch::allclose(after.at(key_target), plain_linear(layer(p, kKey), before.at("perfusion.<perfusion>.input")),
                             1e-5, 1e-6));
  BOOST_TEST(!torch::equal(before.at(value_target), after.at(value_target)));
  BOOST_TEST(!torch::equal(before.at("perfusion.<perfusion>.embedding"), after.at("perfusion.<perfusion>.embedding")));
  // i* follows the concept token's encoding by an EMA: it moved, by at most 1 - 0.99 of the way per step.
  BOOST_TEST(!torch::equal(before.at("perfusion.<perfusion>.input"), after.at("perfusion.<perfusion>.input")));
  // The groups: the embedding at 6e-3 and the value targets at 3e-2, and nothing of the keys.
  const auto groups = method->parameter_groups(1e-3);
  BOOST_REQUIRE(groups.size() == 2);
  BOOST_TEST(groups[0].lr == 6e-3);
  BOOST_TEST(groups[1].lr == 3e-2);
  int64_t value_elements = 0;
  for (const auto& t : groups[1].params) value_elements += t.numel();
  int64_t value_layers_width = 0;
  for (const auto& ref : nn::adaptable_layers(*p.unet))
    if (ref.name.find("attn2.to_v") != std::string::npos) value_layers_width += ref.weight().size(0);
  BOOST_TEST(value_elements == value_layers_width);
}

BOOST_AUTO_TEST_CASE(two_concepts_from_one_merged_delta_apply_at_once) {
  // Two concepts trained apart (different tokens and superclasses), their deltas merged by union.
  models::Pipeline pa = small_pipeline(), pb = small_pipeline();
  auto a = attached(pa, kYaml + "concept_token: <ca>\n");
  auto b = attached(pb, "name: perfusion\nsuperclass: cat\ncovariance_caption_count: 300\nconcept_token: <cb>\n");
  adamw_steps(*a, pa, make_batch(pa, "a photo of a <ca>"), 2, 10.0);
  adamw_steps(*b, pb, make_batch(pb, "a photo of a <cb>"), 2, 10.0);
  const TensorMap merged = a->merge_deltas({a->delta(), b->delta()}, MergeContext{{1.0, 1.0}}).tensors;
  BOOST_TEST(merged.size() == a->delta().size() + b->delta().size());
  // One token twice, or weights (the concepts' gated edits are summed, never weighted): refused.
  BOOST_CHECK_THROW(a->merge_deltas({a->delta(), a->delta()}, MergeContext{{1.0, 1.0}}), InputError);
  BOOST_CHECK_THROW(a->merge_deltas({a->delta(), b->delta()}, MergeContext{{1.0, 0.5}}), InputError);

  models::Pipeline p = small_pipeline();
  auto both = attached(p, kYaml + "concept_token: <ca>\n");
  both->load_delta(merged);
  BOOST_TEST(both->delta().size() == merged.size());
  for (const auto& [k, t] : both->delta()) BOOST_TEST(torch::equal(t, merged.at(k)), k);
  // Each token reads its own embedding.
  {
    torch::NoGradGuard no_grad;
    auto& table = p.text_encoder->text_model->embeddings->token_embedding;
    const torch::Tensor ids = torch::tensor({p.tokenizer->token_id("<ca>"), p.tokenizer->token_id("<cb>")});
    const torch::Tensor rows = table->forward(ids);
    BOOST_TEST(torch::equal(rows[0], merged.at("perfusion.<ca>.embedding")));
    BOOST_TEST(torch::equal(rows[1], merged.at("perfusion.<cb>.embedding")));
  }
  // At e = i*_A the span's projection is e itself: the output is Σ_k g_k(i*_A) o*_k, g_A at s = 1.
  p.unet->eval();
  const Layer v = layer(p, kValue);
  const torch::Tensor ia = merged.at("perfusion.<ca>.input"), ib = merged.at("perfusion.<cb>.input");
  const torch::Tensor oa = merged.at("unet." + kValue + ".perfusion.<ca>.target");
  const torch::Tensor ob = merged.at("unet." + kValue + ".perfusion.<cb>.target");
  const torch::Tensor c_inv = peft::inverse_text_covariance(p, peft::mini_world_captions(300), {});
  const double s_b = ia.dot(c_inv.matmul(ib)).item<double>() / ib.dot(c_inv.matmul(ib)).item<double>();
  const torch::Tensor expected = sigmoid((1.0 - 0.7) / 0.15) * oa + sigmoid((s_b - 0.7) / 0.15) * ob;
  BOOST_TEST(torch::allclose(layer_output(v, ia), expected, 1e-3, 1e-4),
             "max |d| " << (layer_output(v, ia) - expected).abs().max().item<double>() << " of max "
                        << expected.abs().max().item<double>() << ", s_b " << s_b);
  // And W e - W P e + Σ g o* for any e: e - P e is C⁻¹-orthogonal to both inputs.
  torch::manual_seed(5);
  const torch::Tensor e = torch::randn({ia.size(0)});
  const torch::Tensor gates_part = sigmoid((e.dot(c_inv.matmul(ia)).item<double>() / ia.dot(c_inv.matmul(ia)).item<double>() - 0.7) / 0.15) * oa +
                                   sigmoid((e.dot(c_inv.matmul(ib)).item<double>() / ib.dot(c_inv.matmul(ib)).item<double>() - 0.7) / 0.15) * ob;
  // The residual output minus the gates is W r with r = e - P e; solve for r's C⁻¹ products.
  const torch::Tensor basis = torch::stack({ia, ib});                        // [2, d]
  const torch::Tensor gram = basis.matmul(c_inv).matmul(basis.t());         // [2, 2]
  const torch::Tensor coeff = torch::linalg_solve(gram, basis.matmul(c_inv).matmul(e));
  const torch::Tensor r = e - coeff.matmul(basis);
  BOOST_TEST(basis.matmul(c_inv).matmul(r).abs().max().item<double>() < 1e-3 * e.norm().item<double>());
  BOOST_TEST(torch::allclose(layer_output(v, e), plain_linear(v, r) + gates_part, 1e-3, 1e-4));
  // A delta without the method's own concept is refused, naming the token it wants.
  models::Pipeline pz = small_pipeline();
  auto other = attached(pz, kYaml + "concept_token: <cz>\n");
  BOOST_CHECK_THROW(other->load_delta(merged), InputError);
}

BOOST_AUTO_TEST_CASE(the_engine_weights_the_loss_by_each_images_mirrored_object_mask) {
  models::Pipeline p = models::load_pipeline("builtin:tiny");
  cfg::Node ds = cfg::parse_yaml_text(
      "name: builtin\nsubject: red_cube\nunique_token: sks\nnum_images: 2\nnum_eval_prompts: 2\n", {"test", 0});
  SubjectData subject = datasets().get("builtin", "test").factory.load(ds, int(p.resolution), {});
  const int side = subject.images[0].width;
  auto method = read_method(method_yaml(kYaml + "mask: object\n")).build();
  MethodTarget target{p, &subject};
  method->attach(target);
  TrainOptions t;
  t.steps = 1;
  t.batch_size = 4;
  t.flip = true;
  // No masks: refused, naming the dataset.
  BOOST_CHECK_THROW(Trainer(p, *method, subject, t, DvarOptions{}, 7), InputError);
  // Image 0: the left half is the object; image 1: everything.
  subject.object_coverage.assign(2, std::vector<float>(size_t(side * side), 1.0f));
  for (int y = 0; y < side; ++y)
    for (int x = side / 2; x < side; ++x) subject.object_coverage[0][size_t(y * side + x)] = 0.0f;
  Trainer trainer(p, *method, subject, t, DvarOptions{}, 7);
  torch::Generator gen = at::detail::createCPUGenerator(9);
  bool saw_mirrored_half = false;
  for (int draw = 0; draw < 6; ++draw) {
    const TrainingBatch batch = trainer.draw_batch(gen);
    BOOST_REQUIRE(batch.object_weight.defined());
    const int64_t h = batch.latents.size(-1);
    for (int64_t i = 0; i < 4; ++i) {
      const torch::Tensor w = batch.object_weight[i][0];
      if (batch.images.index[i].item<int64_t>() == 1) {
        BOOST_TEST(torch::all(w == 1.0).item<bool>());
        continue;
      }
      const bool mirrored = batch.images.flipped[i].item<bool>();
      const torch::Tensor object = w.slice(1, mirrored ? h / 2 : 0, mirrored ? h : h / 2);
      const torch::Tensor empty = w.slice(1, mirrored ? 0 : h / 2, mirrored ? h / 2 : h);
      BOOST_TEST(torch::all(object == 1.0).item<bool>());
      BOOST_TEST(torch::all(empty == 0.0).item<bool>());
      saw_mirrored_half |= mirrored;
    }
  }
  BOOST_TEST(saw_mirrored_half);
  // mask: auto on a dataset without masks trains unmasked; on one with masks, masked.
  models::Pipeline q = models::load_pipeline("builtin:tiny");
  auto automatic = read_method(method_yaml(kYaml)).build();
  MethodTarget auto_target{q, &subject};
  automatic->attach(auto_target);
  BOOST_TEST(automatic->weights_loss_by_object_mask());
  // captions: instance trains on the subject's own prompt, the concept token for "sks <class>".
  models::Pipeline r = models::load_pipeline("builtin:tiny");
  auto instance = read_method(method_yaml(kYaml + "captions: instance\n")).build();
  MethodTarget instance_target{r, &subject};
  instance->attach(instance_target);
  BOOST_TEST(subject.instance_prompt == "a sks " + subject.class_noun);
  BOOST_TEST(instance->train_prompts(subject) == std::vector<std::string>{"a <perfusion>"});
}
