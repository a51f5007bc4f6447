#define BOOST_TEST_MODULE editing
#include <boost/test/unit_test.hpp>
// Editing (issue 19): the attention-control seam (every transformer attention
// reached once per forward, an identity controller changes nothing, the scope
// removes it), Prompt-to-Prompt's token alignment (word swap mapper, equalizer)
// and defaults, the edit itself (same prompt: the edit is the reconstruction;
// attention control keeps a swap closer to the source than two free samples),
// and `pbench edit` end to end on builtin:mini.
#include <filesystem>
#include <map>

#include "datasets/dataset.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/io/image.hpp"
#include "framework/models/sd/attention_control.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/sample/prompt_to_prompt.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/invert/one_image_command.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
namespace fs = std::filesystem;

namespace {

models::Pipeline& mini() {
  static models::Pipeline pipeline = [] {
    models::Pipeline p = models::load_pipeline(models::kBuiltinMini);
    freeze_pipeline(p);
    return p;
  }();
  return pipeline;
}

// Counts the calls per layer and checks the map shapes; returns the maps unchanged.
struct RecordingController : models::AttentionController {
  std::map<std::string, int> calls;
  int cross = 0, self = 0;
  torch::Tensor control(const torch::Tensor& probs, int64_t heads, const models::AttentionSite& site) override {
    ++calls[site.name];
    (site.cross ? cross : self)++;
    BOOST_TEST(probs.size(0) % heads == 0);
    if (site.cross) BOOST_TEST(probs.size(2) == 77);            // the text tokens
    if (!site.cross) BOOST_TEST(probs.size(2) == probs.size(1));  // self: keys are the queries
    BOOST_TEST(probs.sum(-1).sub(1).abs().max().item<double>() < 1e-5);  // rows are distributions
    return probs;
  }
};

torch::Tensor unet_output(models::Pipeline& p, const torch::Tensor& context) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  torch::Tensor latent = torch::randn({1, 4, 16, 16});
  return p.unet->forward(latent, torch::tensor(int64_t(500)), context);
}

Image mini_world_image(const std::string& subject) {
  const auto& dataset = datasets().get("mini_world", "test");
  cfg::Node section = cfg::parse_yaml_text("name: mini_world\nsubject: " + subject + "\n", {"test", 0});
  return dataset.factory
      .load(cfg::with_defaults(section, dataset.info.defaults), int(mini().resolution), test::scratch_dir("editing_cache"))
      .images.at(0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_controller_sees_every_attention_once_per_forward_and_identity_changes_nothing) {
  models::Pipeline& p = mini();
  torch::Tensor context = models::encode_prompts(p, {"a red cube"}).detach();
  const torch::Tensor plain = unet_output(p, context);
  auto recorder = std::make_shared<RecordingController>();
  {
    models::ScopedAttentionController scope(*p.unet, recorder);
    const torch::Tensor controlled = unet_output(p, context);
    BOOST_TEST(torch::equal(controlled, plain));  // the maps returned unchanged: the same output
  }
  BOOST_TEST(recorder->calls.size() == size_t(recorder->cross + recorder->self));  // each layer once
  BOOST_TEST(recorder->cross == recorder->self);  // attn1 and attn2 of every transformer block
  BOOST_TEST(recorder->cross >= 2);
  for (const auto& [name, n] : recorder->calls) BOOST_TEST(name.find("transformer_blocks") != std::string::npos);
  const int before = recorder->cross;
  unet_output(p, context);  // out of scope: removed
  BOOST_TEST(recorder->cross == before);
  BOOST_TEST(models::set_attention_controller(*p.unet, nullptr) == int64_t(2 * before));
}

BOOST_AUTO_TEST_CASE(self_attention_injection_defaults_to_the_lower_half_of_the_resolutions) {
  auto sd15 = models::UNetConfig::from_file((assets_dir() / "sd15" / "unet" / "config.json").string());
  BOOST_TEST(sample::default_self_max_queries(sd15, 64) == 256);  // the official <= 16^2 at 512 px
  BOOST_TEST(sample::default_self_max_queries(mini().unet->config(), 16) == 64);
}

BOOST_AUTO_TEST_CASE(word_swap_aligns_tokens_word_by_word) {
  const ClipTokenizer& tok = *mini().tokenizer;
  const int64_t T = tok.max_length();
  // Word positions concatenate to the whole prompt's tokenization.
  for (const std::string prompt : {"a red cube on the beach", "a photo of a sks dog", "a watercolour painting"}) {
    auto positions = sample::word_token_positions(tok, prompt);
    std::vector<int64_t> ids = tok.encode(prompt).input_ids;
    int64_t last = positions.back().back();
    BOOST_TEST(ids[size_t(last + 1)] == tok.eos_id(), prompt);
    BOOST_TEST(int64_t(tok.tokenize_ids(prompt).size()) == last, prompt);
  }
  // Same token counts: the identity.
  torch::Tensor same = sample::word_swap_mapper(tok, "a red cube", "a blue cube", T);
  BOOST_TEST(torch::equal(same, torch::eye(T)));
  // A changed word of another length: its tokens spread over the new word's, the rest shifted.
  const std::string a = "a red cube", b = "a watercolourish cube";
  auto pa = sample::word_token_positions(tok, a), pb = sample::word_token_positions(tok, b);
  BOOST_REQUIRE(pa[1].size() != pb[1].size());
  torch::Tensor m = sample::word_swap_mapper(tok, a, b, T);
  for (int64_t s : pa[1])
    for (int64_t t : pb[1]) BOOST_TEST(m[s][t].item<float>() == 1.0f / float(pb[1].size()));
  BOOST_TEST(m[pa[2][0]][pb[2][0]].item<float>() == 1.0f);  // "cube" follows the swapped word
  BOOST_TEST(m[0][0].item<float>() == 1.0f);
  BOOST_CHECK_THROW(sample::word_swap_mapper(tok, "a red cube", "a red cube on grass", T), InputError);  // refine's
  // The equalizer scales one word's tokens.
  torch::Tensor e = sample::word_equalizer(tok, "a red cube", {{"red", 5.0}}, T);
  BOOST_TEST(e[pa[1][0]].item<float>() == 5.0f);
  BOOST_TEST(e.sum().item<float>() == float(T - 1) + 5.0f);
  BOOST_CHECK_THROW(sample::word_equalizer(tok, "a red cube", {{"blue", 2.0}}, T), InputError);
}

BOOST_AUTO_TEST_CASE(refinement_aligns_the_shared_tokens_and_leaves_added_ones_their_own_maps) {
  const ClipTokenizer& tok = *mini().tokenizer;
  const int64_t T = tok.max_length();
  // "a cube" -> "a striped cube": SOT, a, cube and EOT align; the added word's tokens do not.
  auto pa = sample::word_token_positions(tok, "a cube"), pb = sample::word_token_positions(tok, "a striped cube");
  sample::RefinementMap r = sample::refinement_map(tok, "a cube", "a striped cube", T);
  BOOST_TEST(r.source_index[0].item<int64_t>() == 0);
  BOOST_TEST(r.source_index[pb[0][0]].item<int64_t>() == pa[0][0]);
  for (int64_t t : pb[1]) BOOST_TEST(r.alpha[t].item<float>() == 0.0f);
  BOOST_TEST(r.source_index[pb[2][0]].item<int64_t>() == pa[1][0]);
  BOOST_TEST(r.source_index[pb[2].back() + 1].item<int64_t>() == pa[1].back() + 1);  // EOT to EOT
  BOOST_TEST(r.alpha.sum().item<float>() == float(T - int64_t(pb[1].size())));
  // Identical prompts: the identity; past the tokens, positions map to themselves.
  sample::RefinementMap same = sample::refinement_map(tok, "a red cube", "a red cube", T);
  BOOST_TEST(torch::equal(same.source_index, torch::arange(T)));
  // Removed words: the edit's tokens still find theirs.
  sample::RefinementMap removed = sample::refinement_map(tok, "a striped cube", "a cube", T);
  BOOST_TEST(removed.source_index[pa[1][0]].item<int64_t>() == pb[2][0]);

  // Refinement on the same prompt edits nothing; with an added word it runs and edits.
  models::Pipeline& p = mini();
  torch::manual_seed(5);
  const torch::Tensor z = torch::randn({1, 4, 16, 16});
  const torch::Tensor uncond = models::encode_prompts(p, {""}).detach();
  sample::PromptToPromptOptions o;
  o.num_steps = 6;
  o.refine = true;
  sample::EditLatents same_edit = sample::prompt_to_prompt(p, z, "a red cube", "a red cube", {uncond}, o);
  BOOST_TEST(torch::equal(same_edit.source, same_edit.edit));
  sample::EditLatents added = sample::prompt_to_prompt(p, z, "a cube", "a red cube", {uncond}, o);
  BOOST_TEST(!torch::equal(added.source, added.edit));
}

BOOST_AUTO_TEST_CASE(prompt_to_prompt_keeps_a_word_swap_close_to_the_source) {
  models::Pipeline& p = mini();
  torch::manual_seed(11);
  const torch::Tensor z = torch::randn({1, 4, 16, 16});
  const torch::Tensor uncond = models::encode_prompts(p, {""}).detach();
  sample::PromptToPromptOptions o;
  o.num_steps = 10;
  // The same prompt on both branches: the edit is the source, bit for bit.
  sample::EditLatents same = sample::prompt_to_prompt(p, z, "a red cube", "a red cube", {uncond}, o);
  BOOST_TEST(torch::equal(same.source, same.edit));
  // A word swap with attention control stays closer to the source than the same two prompts
  // sampled freely from the same noise (cross_replace = self_replace = 0).
  sample::EditLatents controlled = sample::prompt_to_prompt(p, z, "a red cube", "a red ball", {uncond}, o);
  sample::PromptToPromptOptions free = o;
  free.cross_replace = free.self_replace = 0;
  sample::EditLatents uncontrolled = sample::prompt_to_prompt(p, z, "a red cube", "a red ball", {uncond}, free);
  BOOST_TEST(torch::equal(controlled.source, uncontrolled.source));  // only the edit branch is controlled
  const double d_controlled = (controlled.edit - controlled.source).pow(2).mean().item<double>();
  const double d_free = (uncontrolled.edit - uncontrolled.source).pow(2).mean().item<double>();
  // On builtin:mini the self-attention maps carry most of the layout: injected for 80% of the
  // steps (P2P's self_replace knob) they keep the edit far closer. Measured: defaults 0.255,
  // self 0.8 0.156, free 0.270 (10 steps, this seed).
  sample::PromptToPromptOptions more_self = o;
  more_self.self_replace = 0.8;
  sample::EditLatents kept = sample::prompt_to_prompt(p, z, "a red cube", "a red ball", {uncond}, more_self);
  const double d_kept = (kept.edit - kept.source).pow(2).mean().item<double>();
  BOOST_TEST_MESSAGE("latent MSE edit to source: defaults " << d_controlled << ", self_replace 0.8 " << d_kept
                                                            << ", free " << d_free);
  BOOST_TEST(d_controlled < d_free);
  BOOST_TEST(d_kept < 0.7 * d_free);
  BOOST_TEST(d_controlled > 0.0);  // and it did edit
}

BOOST_AUTO_TEST_CASE(local_blending_keeps_the_source_outside_the_mask) {
  models::Pipeline& p = mini();
  torch::manual_seed(7);
  const torch::Tensor z = torch::randn({1, 4, 16, 16});
  const torch::Tensor uncond = models::encode_prompts(p, {""}).detach();
  sample::PromptToPromptOptions o;
  o.num_steps = 8;
  o.blend_words = {"cube", "ball"};
  // On builtin:mini the words' attention is diffuse: the official threshold 0.3 keeps every
  // position (measured on the striped cube: mask mean 1.0), 0.6 confines the edit.
  o.blend_threshold = 0.6;
  sample::EditLatents r = sample::prompt_to_prompt(p, z, "a red cube", "a red ball", {uncond}, o);
  BOOST_REQUIRE(r.blend_mask.defined());
  const double covered = r.blend_mask.mean().item<double>();
  BOOST_TEST_MESSAGE("local blending mask covers " << covered << " of the latent");
  BOOST_TEST((covered > 0.0 && covered < 1.0));
  // Outside the mask the edit's latent is the source's, exactly; inside it differs.
  const torch::Tensor outside = (1 - r.blend_mask).expand_as(r.edit).to(torch::kBool);
  BOOST_TEST(torch::equal(r.edit.masked_select(outside), r.source.masked_select(outside)));
  BOOST_TEST(!torch::equal(r.edit, r.source));
  sample::PromptToPromptOptions everywhere = o;
  everywhere.blend_threshold = 0.0;
  BOOST_TEST(sample::prompt_to_prompt(p, z, "a red cube", "a red ball", {uncond}, everywhere).blend_mask.mean().item<double>() == 1.0);
  sample::PromptToPromptOptions bad = o;
  bad.blend_words = {"cube", "cone"};  // not a word of the edit prompt
  BOOST_CHECK_THROW(sample::prompt_to_prompt(p, z, "a red cube", "a red ball", {uncond}, bad), InputError);
}

BOOST_AUTO_TEST_CASE(pbench_edit_writes_the_edit_and_refuses_bad_input) {
  fs::path dir = test::scratch_dir("pbench_edit");
  write_png(dir / "input.png", mini_world_image("red_white_striped_cube"));
  auto invoke = [](std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return edit_command(int(argv.size()), argv.data());
  };
  const std::string image = (dir / "input.png").string();
  BOOST_TEST(invoke({"pbench edit", image, "--source", "a red cube", "--target", "a red ball", "--steps", "5",
                     "--reweight", "ball=2", "--out", (dir / "out").string(), "--threads", "1"}) == kExitOk);
  BOOST_TEST(fs::exists(dir / "out" / "edit.png"));
  BOOST_TEST(fs::exists(dir / "out" / "reconstruction.png"));
  h5::Handle file = h5::open_file((dir / "out" / "run.h5").string(), false);
  h5::Handle edit = h5::open_group(file.id(), "edit");
  BOOST_TEST(h5::attr_string(edit.id(), "target") == "a red ball");
  BOOST_TEST(h5::attr_string(edit.id(), "reweight") == "ball=2");
  BOOST_TEST(h5::attr_int(edit.id(), "self_max_queries") == 64);
  BOOST_TEST(h5::dims_of(h5::open_group(file.id(), "inversion").id(), "null_embeddings").at(0) == 5u);
  h5::Handle m = h5::open_group(file.id(), "metrics/edit"), r = h5::open_group(file.id(), "metrics/reconstruction");
  for (const char* name : {"clip_t", "clip_i_source", "dino_source"}) {
    BOOST_TEST(std::isfinite(h5::attr_double(m.id(), name)), name);
    BOOST_TEST(std::isfinite(h5::attr_double(r.id(), name)), name);
  }
  BOOST_TEST(h5::attr_double(r.id(), "psnr") > 10.0);
  // Input errors, exit 2 before any run: swap with refine, word counts that differ without
  // refine, a bad re-weight.
  const std::string bad = (dir / "bad").string();
  BOOST_TEST(invoke({"pbench edit", image, "--source", "a red cube", "--target", "a big red cube", "--swap", "--refine",
                     "--out", bad}) == kExitInput);
  BOOST_TEST(invoke({"pbench edit", image, "--source", "a red cube", "--target", "a big red cube", "--out", bad}) ==
             kExitInput);
  BOOST_TEST(invoke({"pbench edit", image, "--source", "a red cube", "--reweight", "red", "--out", bad}) == kExitInput);
  BOOST_TEST(!fs::exists(dir / "bad" / "run.h5"));
}

BOOST_AUTO_TEST_CASE(personalized_editing_applies_a_learned_delta) {
  fs::path dir = test::scratch_dir("personalized_edit");
  write_png(dir / "input.png", mini_world_image("red_white_striped_cube"));
  // A LoRA delta of the mini pipeline: random (it must change the edit) and zero (it must not).
  models::Pipeline fresh = models::load_pipeline(models::kBuiltinMini);
  const auto& dataset = datasets().get("mini_world", "test");
  SubjectData subject = dataset.factory.load(
      cfg::with_defaults(cfg::parse_yaml_text("name: mini_world\nsubject: red_white_striped_cube\n", {"test", 0}),
                         dataset.info.defaults),
      int(fresh.resolution), dir / "cache");
  const auto& lora = methods().get("lora", "test");
  auto method = lora.factory.create(lora.info.defaults);
  MethodTarget target{fresh, &subject};
  method->attach(target);
  TensorMap random_delta, zero_delta;
  torch::manual_seed(9);
  for (const auto& [name, t] : method->delta()) {
    random_delta[name] = torch::randn_like(t) * 0.05;
    zero_delta[name] = torch::zeros_like(t);
  }
  save_safetensors(dir / "random.delta.safetensors", random_delta, {{"method", "lora"}});
  save_safetensors(dir / "zero.delta.safetensors", zero_delta, {{"method", "lora"}});

  auto edit_with = [&](const std::string& delta, const std::string& name) {
    std::string yaml = "workload: edit\nseed: 0\nmodel: {name: builtin:mini}\nmethod: {name: lora}\n"
                       "dataset: {name: mini_world, subject: red_white_striped_cube}\n"
                       "edit: {image: " + (dir / "input.png").string() +
                       ", source: a sks cube, target: a sks ball, steps: 4, inversion: ddim" +
                       (delta.empty() ? std::string() : ", delta: " + (dir / delta).string()) + "}\n";
    BOOST_REQUIRE(run_one_image_config(cfg::parse_yaml_text(yaml, {"test", 0}), dir / name, 1, "test") == kExitOk);
    return sample_image(dir / name / "run.h5", "edit").rgb;
  };
  const auto plain = edit_with("", "plain");
  BOOST_TEST((edit_with("zero.delta.safetensors", "zero") == plain));     // LoRA at zero: the model itself
  BOOST_TEST((edit_with("random.delta.safetensors", "random") != plain));  // the delta reaches the edit
  h5::Handle file = h5::open_file((dir / "random" / "run.h5").string(), false);
  BOOST_TEST(h5::attr_string(h5::open_group(file.id(), "edit").id(), "delta").find("random.delta") != std::string::npos);
  // A delta without its method section is refused at plan time.
  cfg::Node no_method = cfg::parse_yaml_text(
      "workload: edit\nmodel: {name: builtin:mini}\nedit: {image: " + (dir / "input.png").string() +
          ", source: a cube, target: a ball, delta: " + (dir / "zero.delta.safetensors").string() + "}\n",
      {"test", 0});
  BOOST_TEST(run_one_image_config(no_method, dir / "bad", 1, "test") == kExitInput);
}

BOOST_AUTO_TEST_CASE(sine_model_guided_editing_uses_the_fine_tuned_delta_and_refuses_bad_input) {
  // arXiv 2212.04489's edit (editor: model_guidance): the frozen model on the edit prompt guided by
  // the delta's fine-tuned UNet on the source prompt. A delta equal to the frozen weights and a
  // perturbed one must give different edits; the control (/samples/reconstruction) is the
  // fine-tuned model alone.
  fs::path dir = test::scratch_dir("sine_edit");
  models::Pipeline fresh = models::load_pipeline(models::kBuiltinMini);
  const auto& sine = methods().get("sine", "test");
  auto method = sine.factory.create(sine.info.defaults);
  MethodTarget target{fresh, nullptr};
  method->attach(target);
  TensorMap same, moved;
  torch::manual_seed(5);
  for (const auto& [name, t] : method->delta()) {
    same[name] = t.detach().clone();
    moved[name] = t.detach() + 0.02 * torch::randn_like(t);
  }
  save_safetensors(dir / "same.delta.safetensors", same, {{"method", "sine"}});
  save_safetensors(dir / "moved.delta.safetensors", moved, {{"method", "sine"}});
  auto yaml_with = [&](const std::string& delta, const std::string& extra, const std::string& inversion = "none") {
    return "workload: edit\nseed: 0\nmodel: {name: builtin:mini}\nmethod: {name: sine}\n"
           "dataset: {name: mini_world, subject: red_white_striped_cube}\n"
           "edit: {editor: model_guidance, inversion: " + inversion +
           ", target: a red ball, steps: 4, guidance: 5.0, delta: " + (dir / delta).string() + extra + "}\n";
  };
  auto edit_with = [&](const std::string& delta, const std::string& name) {
    BOOST_REQUIRE(run_one_image_config(cfg::parse_yaml_text(yaml_with(delta, ""), {"test", 0}), dir / name, 1,
                                       "test") == kExitOk);
    return sample_image(dir / name / "run.h5", "edit").rgb;
  };
  const auto with_same = edit_with("same.delta.safetensors", "same");
  BOOST_TEST((edit_with("moved.delta.safetensors", "moved") != with_same));
  h5::Handle file = h5::open_file((dir / "same" / "run.h5").string(), false);
  h5::Handle edit = h5::open_group(file.id(), "edit");
  BOOST_TEST(h5::attr_string(edit.id(), "editor") == "model_guidance");
  BOOST_TEST(h5::attr_double(edit.id(), "beta") == 0.4);
  BOOST_TEST(h5::attr_int(edit.id(), "t_min") == 500);
  h5::Handle m = h5::open_group(file.id(), "metrics/edit"), r = h5::open_group(file.id(), "metrics/reconstruction");
  for (const char* name : {"clip_t", "clip_i_source", "dino_source"}) {
    BOOST_TEST(std::isfinite(h5::attr_double(m.id(), name)), name);
    BOOST_TEST(std::isfinite(h5::attr_double(r.id(), name)), name);
  }
  // Refused at plan time: no delta, an inversion (SINE samples from noise), t_min above t_max,
  // an edit scored against another image than the one the model learnt.
  const std::string no_delta = "workload: edit\nmodel: {name: builtin:mini}\nmethod: {name: sine}\n"
                               "dataset: {name: mini_world, subject: red_white_striped_cube}\n"
                               "edit: {editor: model_guidance, inversion: none, target: a red ball}\n";
  BOOST_TEST(run_one_image_config(cfg::parse_yaml_text(no_delta, {"test", 0}), dir / "bad", 1, "test") == kExitInput);
  BOOST_TEST(run_one_image_config(cfg::parse_yaml_text(yaml_with("same.delta.safetensors", "", "ddim"),
                                                       {"test", 0}),
                                  dir / "bad", 1, "test") == kExitInput);
  BOOST_TEST(run_one_image_config(
                 cfg::parse_yaml_text(yaml_with("same.delta.safetensors", ", model_guidance: {t_min: 900, t_max: 100}"),
                                      {"test", 0}),
                 dir / "bad", 1, "test") == kExitInput);
  std::string other_image = yaml_with("same.delta.safetensors", "");
  other_image.replace(other_image.find("method: {name: sine}"), 20, "method: {name: sine, image_index: 1}");
  BOOST_TEST(run_one_image_config(cfg::parse_yaml_text(other_image, {"test", 0}), dir / "bad", 1, "test") == kExitInput);
  BOOST_TEST(!fs::exists(dir / "bad" / "run.h5"));
}
