#define BOOST_TEST_MODULE methods_text_side
// Prompt tuning, Prefix-Tuning and P+: the method contract (exactly their
// tensors train, delta round trip) and the mechanism each paper describes;
// Textual Inversion's training captions.
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

std::unique_ptr<Method> attached(const std::string& yaml, models::Pipeline& p, const SubjectData* subject = nullptr) {
  cfg::Node section = method_yaml(yaml);
  auto method = methods().get(section.find("name")->as_string(), "test").factory.create(section);
  freeze_pipeline(p);
  MethodTarget target{p, subject};
  method->attach(target);
  return method;
}

SubjectData dog_subject() { return SubjectData{"builtin", "dog", "dog", "sks", false, {}, {}, "a sks dog", "a dog", {}}; }

torch::Tensor ids_of(models::Pipeline& p, const std::string& prompt) { return models::prompt_token_ids(p, {prompt}); }

}  // namespace

// ---------------------------------------------------------------- UNet seam: one context per cross-attention layer

BOOST_AUTO_TEST_CASE(cross_attention_layers_are_numbered_in_forward_order) {
  models::Pipeline sd = models::sd15_meta_pipeline();
  const auto& names = sd.unet->cross_attention_layers();
  BOOST_TEST(names.size() == 16u);
  BOOST_TEST(names.front() == "down_blocks.0.attentions.0.transformer_blocks.0.attn2");
  BOOST_TEST(names[6] == "mid_block.attentions.0.transformer_blocks.0.attn2");
  BOOST_TEST(names.back() == "up_blocks.3.attentions.2.transformer_blocks.0.attn2");
}

BOOST_AUTO_TEST_CASE(layered_context_selects_each_layers_own_slice) {
  models::Pipeline p = small_pipeline();
  torch::NoGradGuard ng;
  Batch b = make_batch(p);
  torch::Tensor context = p.text_encoder->forward(b.ids).last_hidden_state;
  const int64_t layers = p.unet->num_cross_attention_layers();
  BOOST_REQUIRE(layers >= 2);
  torch::Tensor shared = p.unet->forward(b.sample, b.timestep, context);
  // The same context in every slice: bit-identical to the shared form.
  torch::Tensor layered = context.unsqueeze(0).expand({layers, -1, -1, -1}).contiguous();
  BOOST_TEST(torch::equal(p.unet->forward(b.sample, b.timestep, layered), shared));
  // A different context in one slice changes the output; a wrong L is refused.
  for (int64_t l : {int64_t(0), layers - 1}) {
    torch::Tensor one_changed = layered.clone();
    one_changed[l] = torch::randn_like(context);
    BOOST_TEST(!torch::allclose(p.unet->forward(b.sample, b.timestep, one_changed), shared));
  }
  BOOST_CHECK_THROW(p.unet->forward(b.sample, b.timestep, layered.slice(0, 0, layers - 1)), InputError);
}

// ---------------------------------------------------------------- Gradient-free Textual Inversion

BOOST_AUTO_TEST_CASE(gradient_free_ti_contract) {
  check_method_contract("name: gradient_free_ti\ninit_word: dog\npopulation: 6\n");
}

namespace {
// The part of `rows` ([n, d]) outside the span of the top `k` principal directions of `table`,
// computed here by an SVD of the centred table (not through framework/tensor/principal_subspace).
double outside_top_directions(const torch::Tensor& rows, const torch::Tensor& table, int64_t k) {
  torch::Tensor centred = table.to(torch::kDouble) - table.to(torch::kDouble).mean(0);
  torch::Tensor v = std::get<2>(torch::linalg_svd(centred, /*full_matrices=*/false)).slice(0, 0, k);  // [k, d]
  torch::Tensor r = rows.to(torch::kDouble);
  return (r - r.matmul(v.t()).matmul(v)).abs().max().item<double>();
}

// The candidates of one generation as their offsets from the search's centre p0 + table mean.
torch::Tensor candidate_offsets(Method& method, CandidateSearch& search, const torch::Tensor& centre,
                                torch::Generator& gen) {
  std::vector<torch::Tensor> rows;
  run_generation(search, gen, [&](int64_t) {
    rows.push_back(method.delta().at("<sks>").reshape({-1}).to(torch::kDouble) - centre);
    return 1.0;
  });
  return torch::stack(rows);
}
}  // namespace

BOOST_AUTO_TEST_CASE(gradient_free_ti_searches_the_token_tables_principal_subspace_around_p0) {
  // arXiv 2304.05818 (feizc's train_inversion.py): embedding = PCA.inverse_transform(z) + p0, z from 0,
  // so the search starts at p0 + the table's mean and moves only along the top principal directions.
  models::Pipeline p = small_pipeline();
  auto method = attached("name: gradient_free_ti\ninit_word: dog\nintrinsic_dim: 4\npopulation: 5\n", p);
  auto* search = dynamic_cast<CandidateSearch*>(method.get());
  BOOST_REQUIRE(search);
  torch::Tensor table = p.text_encoder->text_model->embeddings->token_embedding->weight.detach();
  std::vector<int64_t> dog = p.tokenizer->tokenize_ids("dog");
  torch::Tensor p0 = table.index_select(0, torch::tensor(dog)).mean(0).to(torch::kDouble);
  torch::Tensor centre = table.to(torch::kDouble).mean(0) + p0;
  torch::Tensor start = method->delta().at("<sks>").reshape({-1}).to(torch::kDouble);
  BOOST_TEST((start - centre).abs().max().item<double>() < 1e-5);

  torch::Generator gen = at::detail::createCPUGenerator(3);
  torch::Tensor offsets = candidate_offsets(*method, *search, centre, gen);
  BOOST_TEST(offsets.size(0) == 5);
  BOOST_TEST(offsets.abs().max().item<double>() > 1e-3);              // candidates differ from the centre
  BOOST_TEST(outside_top_directions(offsets, table, 4) < 1e-4);        // but only along 4 directions
  BOOST_TEST(outside_top_directions(offsets, table, 3) > 1e-3);        // all 4 of them
  // Nothing requires a gradient: the row is searched, not differentiated.
  BOOST_TEST(!method->delta().at("<sks>").requires_grad());
}

BOOST_AUTO_TEST_CASE(gradient_free_ti_expands_its_search_every_expand_every_generations) {
  // initial_dim 2, doubled every generation up to intrinsic_dim 8: generation 1 searches 2
  // directions, generation 2 four, generation 3 eight.
  models::Pipeline p = small_pipeline();
  auto method = attached(
      "name: gradient_free_ti\ninit_word: dog\nintrinsic_dim: 8\ninitial_dim: 2\nexpand_every: 1\npopulation: 6\n", p);
  auto* search = dynamic_cast<CandidateSearch*>(method.get());
  torch::Tensor table = p.text_encoder->text_model->embeddings->token_embedding->weight.detach();
  torch::Tensor start = method->delta().at("<sks>").reshape({-1}).to(torch::kDouble);
  torch::Generator gen = at::detail::createCPUGenerator(4);
  for (int64_t dims : {2, 4, 8}) {
    // The mean moves after a report; offsets are taken from the start (the centre, z = 0).
    torch::Tensor offsets = candidate_offsets(*method, *search, start, gen);
    BOOST_TEST(outside_top_directions(offsets, table, dims) < 1e-4, "generation searching " << dims);
    BOOST_TEST(outside_top_directions(offsets, table, dims / 2) > 1e-3, "generation searching " << dims);
  }
  BOOST_CHECK_THROW(attached("name: gradient_free_ti\nintrinsic_dim: 8\ninitial_dim: 9\n", p), InputError);
}

BOOST_AUTO_TEST_CASE(gradient_free_ti_fitness_improves_over_generations) {
  // The search on a deterministic fitness: the squared distance of the installed row to a target
  // that lies in the searched subspace. CMA-ES's mean approaches it generation by generation.
  models::Pipeline p = small_pipeline();
  auto method = attached("name: gradient_free_ti\ninit_word: dog\nintrinsic_dim: 8\npopulation: 10\nsigma: 0.5\n", p);
  auto* search = dynamic_cast<CandidateSearch*>(method.get());
  torch::Tensor table = p.text_encoder->text_model->embeddings->token_embedding->weight.detach().to(torch::kDouble);
  torch::Tensor directions = std::get<2>(torch::linalg_svd(table - table.mean(0), false)).slice(0, 0, 8);
  torch::Tensor start = method->delta().at("<sks>").reshape({-1}).to(torch::kDouble);
  torch::Tensor target = start + 0.4 * torch::linspace(-1.0, 1.0, 8, torch::kDouble).matmul(directions);
  auto distance = [&] { return (method->delta().at("<sks>").reshape({-1}).to(torch::kDouble) - target).pow(2).sum().item<double>(); };
  const double initial = distance();
  torch::Generator gen = at::detail::createCPUGenerator(9);
  std::vector<double> after_generation;
  for (int g = 0; g < 40; ++g) {
    run_generation(*search, gen, [&](int64_t) { return distance(); });  // report installs the mean
    after_generation.push_back(distance());
  }
  BOOST_TEST_MESSAGE("distance to the target: " << initial << " -> " << after_generation[9] << " (10) -> "
                                                << after_generation.back() << " (40)");
  BOOST_TEST(after_generation[9] < initial);
  BOOST_TEST(after_generation.back() < 0.01 * initial);
}

// ---------------------------------------------------------------- Textual Inversion

BOOST_AUTO_TEST_CASE(textual_inversion_trains_on_all_27_reference_templates_in_order) {
  // `imagenet_templates_small` of diffusers' examples/textual_inversion/textual_inversion.py (the object
  // templates of rinongal/textual_inversion), written out here independently of methods/token_prompts.cpp.
  const std::vector<std::string> reference = {
      "a photo of a {}",        "a rendering of a {}",      "a cropped photo of the {}", "the photo of a {}",
      "a photo of a clean {}",  "a photo of a dirty {}",    "a dark photo of the {}",    "a photo of my {}",
      "a photo of the cool {}", "a close-up photo of a {}", "a bright photo of the {}",  "a cropped photo of a {}",
      "a photo of the {}",      "a good photo of the {}",   "a photo of one {}",         "a close-up photo of the {}",
      "a rendition of the {}",  "a photo of the clean {}",  "a rendition of a {}",       "a photo of a nice {}",
      "a good photo of a {}",   "a photo of the nice {}",   "a photo of the small {}",   "a photo of the weird {}",
      "a photo of the large {}", "a photo of a cool {}",    "a photo of a small {}"};
  BOOST_REQUIRE_EQUAL(reference.size(), 27u);
  std::vector<std::string> expected;
  for (std::string t : reference) expected.push_back(t.replace(t.find("{}"), 2, "<sks>"));
  const auto& entry = methods().get("textual_inversion", "test");
  auto method = entry.factory.create(entry.info.defaults);
  BOOST_TEST(method->train_prompts(dog_subject()) == expected, boost::test_tools::per_element());
  BOOST_TEST(method->train_prompt(dog_subject()) == "a photo of a <sks>");
}

// ---------------------------------------------------------------- P+

BOOST_AUTO_TEST_CASE(textual_inversion_contract) {
  check_method_contract("name: textual_inversion\ninit_word: dog\n");
  check_method_contract("name: textual_inversion\ninit_word: dog\nnum_vectors: 2\n");
}

BOOST_AUTO_TEST_CASE(p_plus_contract) { check_method_contract("name: p_plus\ninit_word: dog\n"); }

BOOST_AUTO_TEST_CASE(p_plus_conditions_each_layer_on_its_own_token) {
  models::Pipeline p = small_pipeline();
  SubjectData dog = dog_subject();
  auto method = attached("name: p_plus\n", p, &dog);
  const int64_t layers = p.unet->num_cross_attention_layers();
  BOOST_TEST(method->delta().at("<sks>").size(0) == layers);
  torch::NoGradGuard ng;
  torch::Tensor ids = ids_of(p, method->train_prompt(dog));
  torch::Tensor context = models::encode_token_ids(p, ids);
  BOOST_TEST(context.sizes() == (std::vector<int64_t>{layers, 1, 77, p.text_encoder->config.encoder.hidden_size}));
  // Every row starts from the class noun: all layers see the same encoding...
  for (int64_t l = 1; l < layers; ++l) BOOST_TEST(torch::equal(context[l], context[0]));
  // ... equal to the prompt with the class noun in the placeholder's place.
  torch::Tensor as_word = p.text_encoder->forward(ids_of(p, "a photo of a dog")).last_hidden_state;
  BOOST_TEST(torch::allclose(context[0], as_word, 1e-5, 1e-6));
  // Moving layer 1's row changes layer 1's encoding only.
  method->delta().at("<sks>")[1].add_(0.5);
  torch::Tensor moved = models::encode_token_ids(p, ids);
  BOOST_TEST(!torch::allclose(moved[1], context[1]));
  for (int64_t l = 0; l < layers; ++l)
    if (l != 1) BOOST_TEST(torch::equal(moved[l], context[l]));
  // Prompts without the placeholder are encoded once and shared by every layer.
  torch::Tensor plain = models::encode_token_ids(p, ids_of(p, "a photo of a cat"));
  BOOST_TEST(plain.size(0) == layers);
  BOOST_TEST(torch::equal(plain[layers - 1], plain[0]));
  // Evaluation prompts put the placeholder where DreamBooth's "sks dog" was.
  BOOST_TEST(method->eval_prompt("a sks dog in the snow", dog) == "a <sks> in the snow");
}

// ---------------------------------------------------------------- prompt tuning

BOOST_AUTO_TEST_CASE(prompt_tuning_contract) {
  check_method_contract("name: prompt_tuning\nlength: 3\ninit_word: dog\n");
  check_method_contract("name: prompt_tuning\nlength: 2\ninit: vocab\n");
  check_method_contract("name: prompt_tuning\nlength: 2\ninit: random\n");
}

BOOST_AUTO_TEST_CASE(prompt_tuning_prepends_soft_tokens_with_the_papers_inits) {
  models::Pipeline p = small_pipeline();
  SubjectData dog = dog_subject();
  auto method = attached("name: prompt_tuning\nlength: 4\n", p, &dog);
  BOOST_TEST(method->train_prompt(dog) == "<soft>_0 <soft>_1 <soft>_2 <soft>_3 a dog");
  BOOST_TEST(method->eval_prompt("a sks dog in the snow", dog) == "<soft>_0 <soft>_1 <soft>_2 <soft>_3 a dog in the snow");
  // Soft tokens sit right after the start token.
  torch::Tensor ids = ids_of(p, method->train_prompt(dog));
  const int64_t first = p.tokenizer->bos_id();
  BOOST_TEST(ids[0][0].item<int64_t>() == first);
  for (int64_t i = 0; i < 4; ++i) BOOST_TEST(ids[0][1 + i].item<int64_t>() == p.text_encoder->config.vocab_size + i);
  // Class init: row 0 is the class label's embedding, the others vocabulary rows (deterministic per init_seed).
  torch::Tensor rows = method->delta().at("soft_prompt");
  torch::Tensor table = p.text_encoder->text_model->embeddings->token_embedding->weight;
  auto dog_id = p.tokenizer->tokenize_ids("dog");
  BOOST_TEST(torch::equal(rows[0], table[dog_id[0]]));
  auto row_in_table = [&](const torch::Tensor& row) { return (table - row).abs().sum(1).min().item<double>() == 0.0; };
  for (int64_t i = 1; i < 4; ++i) BOOST_TEST(row_in_table(rows[i]));
  models::Pipeline again = small_pipeline();
  BOOST_TEST(torch::equal(attached("name: prompt_tuning\nlength: 4\n", again, &dog)->delta().at("soft_prompt"), rows));
  models::Pipeline other = small_pipeline();
  BOOST_TEST(!torch::equal(
      attached("name: prompt_tuning\nlength: 4\ninit_seed: 1\n", other, &dog)->delta().at("soft_prompt"), rows));
  models::Pipeline bad = small_pipeline();
  BOOST_CHECK_THROW(attached("name: prompt_tuning\ninit: words\n", bad, &dog), InputError);
}

// ---------------------------------------------------------------- Prefix-Tuning

BOOST_AUTO_TEST_CASE(prefix_tuning_contract) {
  ContractOptions not_identity;
  not_identity.identity_at_init = false;  // extra keys change every softmax from the start
  not_identity.delta_is_trainable = false;  // the MLP trains, the delta keeps the prefixes
  check_method_contract("name: prefix_tuning\nlength: 3\nreparam_dim: 8\nreparam_hidden: 16\n", not_identity);
  check_method_contract("name: prefix_tuning\nlength: 2\nplacement: both\nreparam_dim: 8\nreparam_hidden: 16\n",
                        not_identity);
  not_identity.delta_is_trainable = true;
  check_method_contract("name: prefix_tuning\nlength: 3\nreparameterization: false\ninit_text: a dog\n", not_identity);
  check_method_contract(
      "name: prefix_tuning\nlength: 3\nplacement: text_encoder\nreparameterization: false\ninit_text: a dog\n",
      not_identity);
}

BOOST_AUTO_TEST_CASE(cross_attention_prefix_equals_extra_context_tokens) {
  // Direct prefixes initialised from a word's activations are exactly that
  // word's tokens added to the context of every cross-attention.
  models::Pipeline p = small_pipeline();
  Batch b = make_batch(p);
  torch::NoGradGuard ng;
  torch::Tensor context = p.text_encoder->forward(b.ids).last_hidden_state;
  torch::Tensor word = p.text_encoder->forward(ids_of(p, "a dog")).last_hidden_state.slice(1, 1, 4);
  torch::Tensor extended = torch::cat({word.expand({2, -1, -1}), context}, 1);
  torch::Tensor reference = p.unet->forward(b.sample, b.timestep, extended);
  auto method = attached("name: prefix_tuning\nlength: 3\nreparameterization: false\ninit_text: a dog\n", p);
  torch::Tensor prefixed = p.unet->forward(b.sample, b.timestep, context);
  BOOST_TEST((prefixed - reference).abs().max().item<double>() < 1e-5);
  BOOST_TEST((prefixed - p.unet->forward(b.sample, b.timestep, extended)).abs().max().item<double>() > 1e-4,
             "the prefix had no effect");
}

BOOST_AUTO_TEST_CASE(text_encoder_prefix_keeps_the_causal_mask) {
  // Every position may attend to the prefix, later tokens still never reach earlier ones.
  models::Pipeline p = small_pipeline();
  auto method = attached("name: prefix_tuning\nlength: 4\nplacement: text_encoder\nreparam_dim: 8\n", p);
  torch::NoGradGuard ng;
  torch::Tensor a = ids_of(p, "a photo of a dog"), c = ids_of(p, "a photo of a cat");
  torch::Tensor ha = p.text_encoder->forward(a).last_hidden_state, hc = p.text_encoder->forward(c).last_hidden_state;
  BOOST_TEST(torch::equal(ha.slice(1, 0, 5), hc.slice(1, 0, 5)));  // SOT a photo of a: identical
  BOOST_TEST(!torch::allclose(ha.slice(1, 5, 6), hc.slice(1, 5, 6)));
  models::Pipeline plain = small_pipeline();
  torch::Tensor h0 = plain.text_encoder->forward(a).last_hidden_state;
  BOOST_TEST(!torch::allclose(h0.slice(1, 0, 1), ha.slice(1, 0, 1)), "the start token did not see the prefix");
}

BOOST_AUTO_TEST_CASE(prefix_tuning_rejects_bad_settings) {
  for (const std::string yaml : {"name: prefix_tuning\nplacement: vae\n", "name: prefix_tuning\nunet_targets: [nope]\n",
                                 "name: prefix_tuning\nlength: 0\n", "name: prefix_tuning\nlength: 77\n",
                                 "name: prefix_tuning\nreparameterization: false\nunet_targets: [attn1]\ninit_text: a\n"}) {
    models::Pipeline p = small_pipeline();
    BOOST_CHECK_THROW(attached(yaml, p), InputError);
  }
}
