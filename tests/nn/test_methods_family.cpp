#define BOOST_TEST_MODULE methods_family
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "framework/config/access.hpp"
#include "framework/config/compose.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/run/catalog.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "tests/support/test_paths.hpp"
#include "framework/train/method_options.hpp"
#include "methods/parameterized_method.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;
namespace fs = std::filesystem;

namespace {
std::unique_ptr<Method> attached(models::Pipeline& p, const std::string& yaml, const SubjectData* subject = nullptr) {
  cfg::Node section = method_yaml(yaml);
  auto m = methods().get(section.find("name")->as_string(), "test").factory.create(section);
  MethodTarget t{p, subject};
  m->attach(t);
  return m;
}
}  // namespace

// ---- (IA)3 -------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(ia3_contract) { check_method_contract("name: ia3\n"); }
BOOST_AUTO_TEST_CASE(ia3_text_encoder_contract) { check_method_contract("name: ia3\ntext_encoder: true\n"); }

BOOST_AUTO_TEST_CASE(ia3_scales_sit_on_keys_values_and_ffn_input) {
  models::Pipeline p = small_pipeline();
  auto m = attached(p, "name: ia3\ntext_encoder: true\n");
  int64_t unet = 0, text = 0;
  for (const auto& [key, t] : m->delta()) {
    BOOST_TEST(ends_with(key, ".ia3.scale"), key);
    BOOST_TEST((t == 1).all().item<bool>(), key << " is not unit-initialised");
    bool kv = ends_with(key, ".to_k.ia3.scale") || ends_with(key, ".to_v.ia3.scale") ||
              ends_with(key, ".k_proj.ia3.scale") || ends_with(key, ".v_proj.ia3.scale");
    bool ffn = ends_with(key, ".ff.net.2.ia3.scale") || ends_with(key, ".mlp.fc2.ia3.scale");
    BOOST_TEST((kv || ffn), key);
    (key.rfind("unet.", 0) == 0 ? unet : text) += t.numel();
  }
  // Keys+values of attn1 and attn2 give 4·ΣC, the ff.net.2 input 4·ΣC (the GEGLU output is 4C wide).
  BOOST_TEST(sum_transformer_widths(p) > 0);
  BOOST_TEST(unet == 8 * sum_transformer_widths(p));
  // Text encoder: per layer k_proj and v_proj outputs (hidden) and the fc2 input (intermediate).
  const auto& enc = p.text_encoder->config.encoder;
  BOOST_TEST(text == enc.num_layers * (2 * enc.hidden_size + enc.intermediate_size));
}

BOOST_AUTO_TEST_CASE(ia3_ffn_scale_equals_scaling_the_inner_activation) {
  models::Pipeline p = small_pipeline();
  auto m = attached(p, "name: ia3\noutput_targets: [to_k]\ninput_targets: [ff.net.2]\n");
  auto& ff2 = *dynamic_cast<nn::LinearImpl*>(
      p.unet->named_modules()["down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2"].get());
  torch::NoGradGuard ng;
  torch::Tensor scale = torch::rand({ff2.weight.size(1)}) + 0.5;
  auto delta = m->delta();
  const std::string key = "unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.ia3.scale";
  BOOST_REQUIRE(delta.count(key));
  delta[key] = scale;
  m->load_delta(delta);
  torch::Tensor h = torch::randn({3, ff2.weight.size(1)});
  torch::Tensor expected = torch::nn::functional::linear(h * scale, ff2.weight, ff2.bias);
  BOOST_TEST((ff2.forward(h) - expected).abs().max().item<double>() < 1e-5);
}

// ---- LoHa / LoKr -------------------------------------------------------------
BOOST_AUTO_TEST_CASE(loha_contract) { check_method_contract("name: loha\nrank: 2\nalpha: 1\n"); }
BOOST_AUTO_TEST_CASE(loha_conv_contract) { check_method_contract("name: loha\nrank: 2\ntargets: [conv1, conv_shortcut]\n"); }
BOOST_AUTO_TEST_CASE(lokr_low_rank_contract) { check_method_contract("name: lokr\nrank: 1\nalpha: 1\n"); }
BOOST_AUTO_TEST_CASE(lokr_full_second_factor_contract) { check_method_contract("name: lokr\nrank: 8\n"); }
BOOST_AUTO_TEST_CASE(lokr_conv_contract) { check_method_contract("name: lokr\nrank: 2\nfactor: 4\ntargets: [conv1]\n"); }

BOOST_AUTO_TEST_CASE(loha_update_is_a_hadamard_product) {
  models::Pipeline p = small_pipeline();
  auto m = attached(p, "name: loha\nrank: 2\nalpha: 1\ntargets: [conv_in]\n");
  auto delta = m->delta();
  const std::string pre = "unet.conv_in.loha.";
  for (const char* n : {"up1", "down1", "up2", "down2"}) BOOST_REQUIRE(delta.count(pre + n));
  torch::NoGradGuard ng;
  for (auto& [k, t] : delta) t = torch::randn(t.sizes());
  m->load_delta(delta);
  auto& conv = *dynamic_cast<nn::Conv2dImpl*>(p.unet->named_modules()["conv_in"].get());
  torch::Tensor dw = (delta[pre + "up1"].matmul(delta[pre + "down1"]) * delta[pre + "up2"].matmul(delta[pre + "down2"])) * 0.5;
  torch::Tensor w = conv.attached()[0].second->weight(conv.weight);
  BOOST_TEST((w - conv.weight - dw.reshape(conv.weight.sizes())).abs().max().item<double>() < 1e-4);
}

BOOST_AUTO_TEST_CASE(lokr_update_is_a_kronecker_product) {
  models::Pipeline p = small_pipeline();
  auto m = attached(p, "name: lokr\nrank: 2\nalpha: 4\nfactor: 4\ntargets: [conv_in]\n");
  auto delta = m->delta();
  const std::string pre = "unet.conv_in.lokr.";
  // conv_in: [32, 4, 3, 3]; factor 4 -> out 32 = 4·8, in 4 = 1·4; W2 keeps the 3x3 kernel: [8, 4·9].
  BOOST_REQUIRE(delta.count(pre + "w1"));
  BOOST_REQUIRE(delta.count(pre + "w2_up"));
  BOOST_REQUIRE(delta.count(pre + "w2_down"));
  torch::NoGradGuard ng;
  for (auto& [k, t] : delta) t = torch::randn(t.sizes());
  m->load_delta(delta);
  auto& conv = *dynamic_cast<nn::Conv2dImpl*>(p.unet->named_modules()["conv_in"].get());
  torch::Tensor w1 = delta[pre + "w1"], w2 = delta[pre + "w2_up"].matmul(delta[pre + "w2_down"]);
  BOOST_TEST(w1.size(0) * w2.size(0) == 32);
  BOOST_TEST(w1.size(1) * w2.size(1) == 4 * 9);
  torch::Tensor w = conv.attached()[0].second->weight(conv.weight);
  torch::Tensor dw = (w - conv.weight).reshape({32, -1});
  // Entry (i, j) of W1 ⊗ W2 is W1[i / r2, j / c2] · W2[i % r2, j % c2], scaled by alpha / r = 2.
  int64_t r2 = w2.size(0), c2 = w2.size(1);
  for (int64_t i : {0, 5, 31})
    for (int64_t j : {0, 7, 35})
      BOOST_TEST(std::abs(dw[i][j].item<double>() -
                          2.0 * w1[i / r2][j / c2].item<double>() * w2[i % r2][j % c2].item<double>()) < 1e-4);
}

// ---- DiffFit -------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(difffit_contract) { check_method_contract("name: difffit\n"); }
BOOST_AUTO_TEST_CASE(difffit_text_encoder_contract) { check_method_contract("name: difffit\ntext_encoder: true\n"); }

BOOST_AUTO_TEST_CASE(difffit_trains_biases_norms_and_gammas) {
  models::Pipeline p = small_pipeline();
  // Expected set from the model itself, before attaching.
  int64_t biases = 0, norms = 0;
  for (const auto& ref : nn::adaptable_layers(*p.unet)) {
    std::string kind = ref.layer->layer_kind();
    for (const auto& item : ref.module->named_parameters(false)) {
      if (item.key() == "bias") (kind == "group_norm" || kind == "layer_norm" ? norms : biases) += item.value().numel();
      if (item.key() == "weight" && (kind == "group_norm" || kind == "layer_norm")) norms += item.value().numel();
    }
  }
  auto m = attached(p, "name: difffit\n");
  int64_t trainable = 0, gammas = 0;
  for (const auto& g : m->parameter_groups(1.0))
    for (const auto& t : g.params) trainable += t.numel();
  for (const auto& [key, t] : m->delta())
    if (ends_with(key, ".difffit.gamma")) {
      gammas += t.numel();
      BOOST_TEST((t == 1).all().item<bool>());
    }
  BOOST_TEST(gammas == 3 * sum_transformer_widths(p));  // attn1, attn2, ff per transformer block
  BOOST_TEST(trainable == biases + norms + gammas);
}

// ---- DyLoRA --------------------------------------------------------------------
// At rank 1 every step trains the one component, so the kit's "every tensor gets a gradient" holds;
// the per-step update at higher ranks is tests/nn/test_dylora_update.cpp's.
BOOST_AUTO_TEST_CASE(dylora_contract) { check_method_contract("name: dylora\nrank: 1\nalpha: 1\n"); }

BOOST_AUTO_TEST_CASE(dylora_eval_rank_truncates_one_delta) {
  // One set of factors evaluated at ranks 1..4: rank b uses exactly the first b components.
  models::Pipeline p = small_pipeline();
  Batch b = make_batch(p);
  auto m = attached(p, "name: dylora\nrank: 4\nalpha: 4\ntargets: [attn2.to_v]\n");
  auto delta = m->delta();
  torch::manual_seed(3);
  for (auto& [k, t] : delta) t = torch::randn(t.sizes()) * 0.1;
  auto file = scratch_dir("dylora_ranks") / "delta.safetensors";
  save_safetensors(file, delta);
  std::vector<torch::Tensor> outputs;
  for (int rank = 1; rank <= 4; ++rank) {
    models::Pipeline q = small_pipeline();
    auto at = attached(q, "name: dylora\nrank: 4\nalpha: 4\ntargets: [attn2.to_v]\neval_rank: " + std::to_string(rank) + "\n");
    at->load_delta(load_safetensors(file));
    torch::NoGradGuard ng;
    outputs.push_back(forward(q, b));
    // The same output from a plain LoRA of rank b holding the first b components (scale alpha/b).
    models::Pipeline r = small_pipeline();
    auto lora = attached(r, "name: lora\nrank: " + std::to_string(rank) + "\nalpha: 4\ntargets: [attn2.to_v]\n");
    TensorMap truncated;
    for (const auto& [k, t] : delta) {
      std::string key = k;
      key.replace(key.find(".dylora."), 8, ".lora.");
      truncated[key] = ends_with(k, ".down") ? t.narrow(0, 0, rank) : t.narrow(1, 0, rank);
    }
    lora->load_delta(truncated);
    BOOST_TEST((forward(r, b) - outputs.back()).abs().max().item<double>() < 1e-5, "rank " << rank);
  }
  for (int i = 1; i < 4; ++i) BOOST_TEST((outputs[size_t(i)] - outputs[0]).abs().max().item<double>() > 0.0);
}

namespace {
// DyLoRA (rank 3) on one layer with factors chosen so the adapted output reveals the active rank b:
// down[i]·x = 10^i and up = 1, so ΔY = (alpha / b) · Σ_{i<b} 10^i.
struct DyloraRankProbe {
  models::Pipeline p = small_pipeline();
  std::unique_ptr<Method> m;
  nn::LinearImpl* layer = nullptr;
  torch::Tensor x, base;
  explicit DyloraRankProbe(const std::string& extra_yaml = "") {
    m = attached(p, "name: dylora\nrank: 3\nalpha: 3\ntargets: [down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v]\n" +
                        extra_yaml);
    layer = dynamic_cast<nn::LinearImpl*>(
        p.unet->named_modules()["down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v"].get());
    x = torch::randn({1, layer->weight.size(1)});
    torch::Tensor unit = x[0] / x[0].dot(x[0]);
    auto delta = m->delta();
    BOOST_REQUIRE(delta.size() == 2u);
    for (auto& [k, t] : delta)
      t = ends_with(k, ".up") ? torch::ones(t.sizes()) : torch::stack({unit, unit * 10, unit * 100});
    m->load_delta(delta);
    torch::NoGradGuard ng;
    base = torch::nn::functional::linear(x, layer->weight, layer->bias);
  }
  int active_rank() {
    torch::NoGradGuard ng;
    double d = (layer->forward(x) - base).mean().item<double>();
    for (int b = 1; b <= 3; ++b) {
      double expected = 3.0 / b * (b == 1 ? 1.0 : b == 2 ? 11.0 : 111.0);
      if (std::abs(d - expected) < 1e-2 * expected) return b;
    }
    return 0;
  }
};

std::vector<std::string> dylora_variants(const std::string& yaml) {
  return methods().get("dylora", "test").factory.create(method_yaml("name: dylora\n" + yaml))->eval_variants();
}
}  // namespace

BOOST_AUTO_TEST_CASE(dylora_samples_every_rank_during_steps_only) {
  DyloraRankProbe probe;
  BOOST_TEST(probe.active_rank() == 3);  // eval_rank null = r_max outside steps
  torch::Generator gen = at::detail::createCPUGenerator(11);
  std::map<int, int> seen;
  for (int i = 0; i < 90; ++i) {
    probe.m->before_step(i, gen);
    ++seen[probe.active_rank()];
    probe.m->after_step(i);
    BOOST_TEST(probe.active_rank() == 3);
  }
  BOOST_TEST(seen.count(0) == 0u);
  for (int b = 1; b <= 3; ++b) BOOST_TEST(seen[b] > 10, "rank " << b << " sampled " << seen[b] << " times of 90");
  BOOST_CHECK_THROW(attached(probe.p, "name: dylora\nrank: 3\neval_rank: 4\n"), InputError);
}

BOOST_AUTO_TEST_CASE(dylora_eval_variants_are_its_eval_ranks) {
  // Default: powers of two below the rank, then the rank.
  BOOST_TEST(dylora_variants("rank: 16\n") == (std::vector<std::string>{"rank_1", "rank_2", "rank_4", "rank_8", "rank_16"}));
  BOOST_TEST(dylora_variants("rank: 6\n") == (std::vector<std::string>{"rank_1", "rank_2", "rank_4", "rank_6"}));
  BOOST_TEST(dylora_variants("rank: 1\n") == (std::vector<std::string>{"rank_1"}));
  BOOST_TEST(dylora_variants("rank: 4\neval_ranks: [3, 1, 3]\n") == (std::vector<std::string>{"rank_1", "rank_3"}));
  BOOST_TEST(dylora_variants("rank: 4\neval_ranks: []\n").empty());
  for (const char* bad : {"rank: 4\neval_ranks: [5]\n", "rank: 4\neval_ranks: [0]\n", "rank: 4\neval_ranks: [1.5]\n",
                          "rank: 4\neval_ranks: 2\n"})
    BOOST_CHECK_THROW(dylora_variants(bad), InputError);

  // A variant sets the rank used outside steps; training steps still sample; "" restores eval_rank.
  DyloraRankProbe probe("eval_rank: 2\n");
  BOOST_TEST(probe.active_rank() == 2);
  probe.m->select_eval_variant("rank_1");
  BOOST_TEST(probe.active_rank() == 1);
  torch::Generator gen = at::detail::createCPUGenerator(5);
  probe.m->before_step(1, gen);
  probe.m->after_step(1);
  BOOST_TEST(probe.active_rank() == 1);
  probe.m->select_eval_variant("rank_3");
  BOOST_TEST(probe.active_rank() == 3);
  probe.m->select_eval_variant("");
  BOOST_TEST(probe.active_rank() == 2);
  BOOST_CHECK_THROW(probe.m->select_eval_variant("rank_7"), std::invalid_argument);
  BOOST_TEST(probe.active_rank() == 2);
  // Methods without variants have none and accept only the default.
  models::Pipeline q = small_pipeline();
  auto lora = attached(q, "name: lora\n");
  BOOST_TEST(lora->eval_variants().empty());
  lora->select_eval_variant("");
  BOOST_CHECK_THROW(lora->select_eval_variant("rank_1"), std::invalid_argument);
}

// ---- Custom Diffusion ------------------------------------------------------------
BOOST_AUTO_TEST_CASE(custom_diffusion_contract) {
  check_method_contract("name: custom_diffusion\nscale_lr: false\nlr: 1.0e-3\n", "a photo of a sks dog");
}

BOOST_AUTO_TEST_CASE(custom_diffusion_token_and_prompts) {
  models::Pipeline p = small_pipeline();
  SubjectData subject{"builtin", "dog0", "dog", "sks", true, {}, {}, "a sks dog", "a dog", {}};
  auto m = attached(p, "name: custom_diffusion\ninitializer_token: \"{class}\"\n", &subject);
  BOOST_TEST(m->train_prompt(subject) == "a <new1> dog");
  BOOST_TEST(m->eval_prompt("a sks dog in the snow", subject) == "a <new1> dog in the snow");
  auto prior = m->regularization_set(subject);
  BOOST_REQUIRE(prior.has_value());
  BOOST_TEST(prior->class_prompt == "a dog");
  BOOST_TEST(prior->num_images == 200);  // the paper's count (was a fixed 8; issue 15, item 4)
  int64_t id = p.tokenizer->token_id("<new1>");
  BOOST_TEST(id == 49408);
  auto delta = m->delta();
  const std::string key = "text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens";
  BOOST_REQUIRE(delta.count(key));
  int64_t dog = p.tokenizer->tokenize_ids("dog").at(0);
  BOOST_TEST(torch::equal(delta[key][0], p.text_encoder->text_model->embeddings->token_embedding->weight[dog]));
  // Only attn2 K/V (and the token) train; lr 1e-5 per image (the trainer multiplies by the batch).
  int64_t kv = 0;
  for (const auto& [k, t] : delta) {
    if (k == key) continue;
    BOOST_TEST((ends_with(k, ".attn2.to_k.weight") || ends_with(k, ".attn2.to_v.weight")), k);
    kv += t.numel();
  }
  BOOST_TEST(kv == 2 * p.unet->config().cross_attention_dim.at(0) * sum_transformer_widths(p));  // 2 · context dim · ΣC
  for (const auto& g : m->parameter_groups(1.0)) {
    BOOST_TEST(std::abs(g.lr - 1e-5) < 1e-15);
    BOOST_TEST(g.lr_per_image);
  }
  BOOST_TEST((m->instance_augmentation() == InstanceAugmentation::random_scale));  // the reference's default
  BOOST_TEST((methods().get("custom_diffusion", "test").factory.create(method_yaml("name: custom_diffusion\naugment: false\n"))
                  ->instance_augmentation() == InstanceAugmentation::none));
  BOOST_CHECK_THROW(attached(p, "name: custom_diffusion\nfreeze_model: everything\n"), InputError);
}

// ---- DreamBooth ---------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(dreambooth_contract) {
  check_method_contract("name: dreambooth\n");
  check_method_contract("name: dreambooth\ntrain_text_encoder: true\n");
}

// ---- DreamBooth's regularization set ---------------------------------------------
BOOST_AUTO_TEST_CASE(dreambooth_declares_its_prior_preservation_set) {
  // The method, not the engine, says what its class images are (Method::regularization_set).
  SubjectData dog{"builtin", "dog", "dog", "sks", false, {}, {}, "a sks dog", "a dog", {}};
  const auto& entry = methods().get("dreambooth", "test");
  auto with = [&](const std::string& yaml) {
    return entry.factory.create(cfg::with_defaults(method_yaml(yaml), entry.info.defaults));
  };
  auto prior = with("name: dreambooth\n")->regularization_set(dog);
  BOOST_REQUIRE(prior.has_value());
  BOOST_TEST(prior->class_prompt == "a dog");  // class_prompt: null = the subject's
  BOOST_TEST(prior->num_images == 200);  // diffusers' README with prior preservation (issue 15, item 4)
  BOOST_TEST(prior->loss_weight == 1.0);
  BOOST_TEST(prior->real_images_dir.empty());
  prior = with("name: dreambooth\nclass_prompt: a photo of a dog\nnum_class_images: 3\nprior_loss_weight: 0.5\n")
              ->regularization_set(dog);
  BOOST_REQUIRE(prior.has_value());
  BOOST_TEST(prior->class_prompt == "a photo of a dog");
  BOOST_TEST(prior->num_images == 3);
  BOOST_TEST(prior->loss_weight == 0.5);
  BOOST_TEST(!with("name: dreambooth\nprior_preservation: false\n")->regularization_set(dog).has_value());
  BOOST_CHECK_THROW(with("name: dreambooth\nnum_class_images: 0\n"), InputError);
}

// ---- configs -------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(registry_defaults_train_at_the_papers_learning_rates) {
  // Textual Inversion 5e-3 (rinongal/textual_inversion's base rate), DreamBooth 5e-6 (diffusers' SD
  // reference), not the engine's train.lr.
  const double engine_lr = 1e-4;
  for (const auto& [name, paper_lr] : std::vector<std::pair<std::string, double>>{{"textual_inversion", 5e-3},
                                                                                  {"dreambooth", 5e-6}}) {
    const auto& entry = methods().get(name, "test");
    models::Pipeline p = small_pipeline();
    SubjectData dog{"builtin", "dog", "dog", "sks", false, {}, {}, "a sks dog", "a dog", {}};
    auto m = entry.factory.create(entry.info.defaults);
    MethodTarget t{p, &dog};
    m->attach(t);
    for (const auto& g : m->parameter_groups(engine_lr)) BOOST_TEST(g.lr == paper_lr, name << " group " << g.name);
  }
}

BOOST_AUTO_TEST_CASE(method_group_options_are_the_registered_methods_defaults) {
  // A method lives in three places (its file, its method_list.hpp line, its contract
  // test): `method=<name>` composes the registered defaults, from any experiment folder,
  // with no experiments/method/<name>.yaml to keep in step with the options struct.
  install_builtin_group_options();
  fs::path dir = test::scratch_dir("method_group_options");
  {
    std::ofstream(dir / "exp.yaml") << "defaults:\n  - method: lora\n";
  }
  for (const auto& info : methods().infos()) {
    cfg::ComposeResult composed = cfg::compose(dir / "exp.yaml", {cfg::parse_override("method=" + info.name)});
    const cfg::Node* method = composed.config.find("method");
    BOOST_REQUIRE_MESSAGE(method, info.name);
    BOOST_TEST((*method == info.defaults), info.name << ": composed " << cfg::to_yaml(*method));
    BOOST_CHECK_NO_THROW(methods().get(info.name, "test").factory.create(*method));
  }
  // A file of the same name in the folder is a preset of the user's: it wins.
  fs::create_directories(dir / "method");
  {
    std::ofstream(dir / "method" / "lora.yaml") << "name: lora\nrank: 16\n";
  }
  cfg::ComposeResult preset = cfg::compose(dir / "exp.yaml", {});
  BOOST_TEST(cfg::get_int(preset.config, "method.rank") == 16);
  BOOST_TEST(cfg::lookup(preset.config, "method.alpha") == nullptr);  // the file alone; defaults fill in later
  // Listing a group names both kinds; an unknown option still names what is there.
  std::vector<std::string> options = cfg::group_options(dir / "exp.yaml", "method");
  BOOST_TEST((std::find(options.begin(), options.end(), "svdiff") != options.end()));
  BOOST_TEST(cfg::is_group_key(dir / "exp.yaml", "method"));
  try {
    cfg::compose(dir / "exp.yaml", {cfg::parse_override("method=lorra")});
    BOOST_FAIL("method=lorra composed");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("available: c_lora, closer_look_adapter") != std::string::npos, e.what());
  }
}

// ---- a new method, added the way issue 14 asks --------------------------------
// BitFit (Ben Zaken et al., arXiv 2106.10199): train only the biases. Everything a new
// method needs is below — its options struct, its class, one register_method call —
// plus, in a real method file, one X(namespace, name) line in methods/method_list.hpp.
// Registered here into a test's own registry so the build's list stays the papers'.
namespace {
struct BitFitOptions {
  std::vector<std::string> targets{"*"};
  std::optional<double> lr = 1e-3;

  template <class V>
  void fields(V& v) {
    v("targets", targets, "layers whose biases train");
    v("lr", lr, "learning rate; null = train.lr", cfg::learning_rate());
  }
};

class BitFit : public peft::ParameterizedMethod {
 public:
  BitFit(const BitFitOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "bitfit";
    set_group_lr("unet", opt_.lr);
  }
  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    for (const auto& ref : peft::select_or_throw(*target.pipeline.unet, opt_.targets, {"linear", "conv2d"}, cfg_, "targets"))
      for (const auto& item : ref.module->named_parameters(/*recurse=*/false))
        if (item.key() == "bias") track(peft::kUnetPrefix + ref.name + ".bias", item.value(), "unet");
  }
  std::string describe() const override { return "BitFit: " + std::to_string(tracked_elements()) + " biases"; }

 private:
  BitFitOptions opt_;
  cfg::Node cfg_;
};

Registry<MethodEntry>& example_registry() {
  static Registry<MethodEntry> registry = [] {
    Registry<MethodEntry> r("method");
    register_method<BitFit, BitFitOptions>(r, "bitfit", "BitFit (arXiv 2106.10199): biases only",
                                           MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: test example"});
    return r;
  }();
  return registry;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_method_added_in_one_place_gets_defaults_checks_help_and_the_contract) {
  const auto& entry = example_registry().get("bitfit", "test");
  cfg::Node defaults = entry.info.defaults;
  BOOST_TEST(defaults.find("lr")->as_double() == 1e-3);
  BOOST_TEST(entry.factory.options.size() == 2u);
  BOOST_CHECK_THROW(entry.factory.create(method_yaml("name: bitfit\nlr: -1\n")), InputError);
  BOOST_CHECK_THROW(entry.factory.create(method_yaml("name: bitfit\ntargts: [x]\n")), InputError);
  ContractOptions options;
  options.registry = &example_registry();
  check_method_contract("name: bitfit\n", options);
}

BOOST_AUTO_TEST_CASE(custom_diffusion_declares_its_regularization_set) {
  // Issue 15, item 4: count, weight, class prompt and a folder of real images are the method's keys.
  SubjectData dog{"builtin", "dog", "dog", "sks", false, {}, {}, "a sks dog", "a dog", {}};
  const auto& entry = methods().get("custom_diffusion", "test");
  auto prior = entry.factory.create(method_yaml("name: custom_diffusion\n"))->regularization_set(dog);
  BOOST_REQUIRE(prior.has_value());
  BOOST_TEST(prior->num_images == 200);  // the paper's 200 regularization images
  BOOST_TEST(prior->loss_weight == 1.0);
  BOOST_TEST(prior->class_prompt == "a dog");
  BOOST_TEST(prior->real_images_dir.empty());
  prior = entry.factory
              .create(method_yaml("name: custom_diffusion\nnum_class_images: 5\nprior_loss_weight: 0.25\n"
                                  "class_data_dir: /data/laion_dog\nclass_prompt: dog\n"))
              ->regularization_set(dog);
  BOOST_TEST(prior->num_images == 5);
  BOOST_TEST(prior->loss_weight == 0.25);
  BOOST_TEST(prior->real_images_dir == "/data/laion_dog");
  BOOST_TEST(prior->class_prompt == "dog");
  BOOST_CHECK_THROW(entry.factory.create(method_yaml("name: custom_diffusion\nprior_loss_weight: -1\n")), InputError);
}

BOOST_AUTO_TEST_CASE(every_registered_method_has_a_contract_test) {
  // The list is the registry's: a method registered without a check_method_contract call on
  // its own config (tests/nn/*.cpp) fails here, so the contract cannot be forgotten.
  std::string sources;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "tests" / "nn")) {
    if (entry.path().extension() != ".cpp") continue;
    std::ifstream in(entry.path());
    sources.append((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  for (const auto& name : methods().names())
    BOOST_TEST(sources.find("check_method_contract(\"name: " + name + "\\n") != std::string::npos,
               name << ": no check_method_contract(\"name: " << name << "\\n…\") in tests/nn/");
}

// ---- the family's scaffold and the one read of a method section (issue 37) -----
BOOST_AUTO_TEST_CASE(a_method_section_is_checked_when_read_before_anything_is_built) {
  // DyLoRA's rules across fields live in its options' check(): read() refuses, no builder is returned.
  const MethodEntry& dylora = methods().get("dylora", "test").factory;
  BOOST_CHECK_THROW(dylora.read(method_yaml("name: dylora\nrank: 3\neval_rank: 4\n")), InputError);
  BOOST_CHECK_THROW(dylora.read(method_yaml("name: dylora\nrank: 4\neval_ranks: [5]\n")), InputError);
  BOOST_CHECK_NO_THROW(dylora.read(method_yaml("name: dylora\nrank: 4\neval_rank: 4\neval_ranks: [4, 2]\n")));
  BOOST_CHECK_THROW(read_method(method_yaml("name: lora\nrnak: 4\n")), InputError);  // unknown key
  BOOST_CHECK_THROW(read_method(method_yaml("name: lora\nrank: 0\n")), InputError);  // range
  BOOST_CHECK_THROW(read_method(method_yaml("name: lorra\n")), InputError);          // no such method
  BOOST_CHECK_THROW(read_method(method_yaml("[lora]\n")), InputError);               // not a map
  // One read builds any number of independent instances with the options it read.
  const ChosenMethod lora = read_method(method_yaml("name: lora\nrank: 2\ntext_encoder: true\n"));
  BOOST_TEST(lora.name == "lora");
  models::Pipeline p1 = small_pipeline(), p2 = small_pipeline();
  auto a = lora.build(), b = lora.build();
  BOOST_TEST(a.get() != b.get());
  MethodTarget t1{p1, nullptr}, t2{p2, nullptr};
  a->attach(t1);
  b->attach(t2);
  BOOST_TEST(delta_keys(*a) == delta_keys(*b));
  BOOST_TEST(a->delta().begin()->second.size(0) == 2);  // rank 2 as read
}

BOOST_AUTO_TEST_CASE(the_layer_adapter_family_counts_layers_per_component_and_groups_their_lrs) {
  models::Pipeline p = small_pipeline();
  const int64_t projections = count_attention_projections(p);
  auto lora = attached(p, "name: lora\nrank: 2\nlr: 0.001\ntext_encoder: true\ntext_lr: 0.0005\n");
  const std::string d = lora->describe();
  BOOST_TEST(d.rfind("LoRA r=2 on " + std::to_string(projections) + " UNet layers + ", 0) == 0, d);
  BOOST_TEST(ends_with(d, " text-encoder layers"), d);
  auto groups = lora->parameter_groups(1.0);
  BOOST_REQUIRE(groups.size() == 2u);
  BOOST_TEST(groups[0].name == "unet");
  BOOST_TEST(groups[0].lr == 0.001);
  BOOST_TEST(groups[1].name == "text_encoder");
  BOOST_TEST(groups[1].lr == 0.0005);
  models::Pipeline q = small_pipeline();
  auto ia3 = attached(q, "name: ia3\nlr: 0.002\ntext_encoder: true\n");  // text_lr unset = lr
  auto ia3_groups = ia3->parameter_groups(1.0);
  models::Pipeline s = small_pipeline();  // lr: null = the engine's train.lr, as the option's help says
  BOOST_TEST(attached(s, "name: ia3\nlr: null\n")->parameter_groups(0.25).front().lr == 0.25);
  BOOST_REQUIRE(ia3_groups.size() == 2u);
  BOOST_TEST(ia3_groups[1].lr == 0.002);
  BOOST_TEST(ia3->describe().rfind("(IA)3: ", 0) == 0);
  models::Pipeline r = small_pipeline();
  BOOST_TEST(attached(r, "name: lokr\n")->describe() == "LoKr factor=-1 r=8 on " + std::to_string(projections) + " UNet layers");
}
