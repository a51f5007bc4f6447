#define BOOST_TEST_MODULE merge_pipeline
// `pbench merge`: a method baked into its base model (framework/train/bake_method.hpp) and
// written as a diffusers folder. What users rely on: the folder, loaded as any pipeline is,
// predicts what the method predicted (UNet and text encoder, within fp32 noise), the delta
// really reached it (it predicts differently from the base), and a method whose change is not
// a change of weights is refused naming the layer.
#include <boost/test/unit_test.hpp>

#include "framework/config/yaml_io.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/bake_method.hpp"
#include "framework/train/method.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
namespace fs = std::filesystem;

namespace {

SubjectData words_only_subject() {
  SubjectData s;
  s.unique_token = "sks";
  s.class_noun = "cube";
  s.instance_prompt = "a sks cube";
  return s;
}

struct Predictions {
  torch::Tensor unet, text;  // the UNet's ε on a fixed latent, the text encoder's context
};

Predictions predict(models::Pipeline& p, const std::string& prompt) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const int64_t side = p.latent_size();
  torch::Tensor latent = torch::randn({2, p.unet->config().in_channels, side, side});
  torch::Tensor context = encode_prompts(p, {prompt, "a photo of a ball"});
  return {p.unet->forward(latent, torch::tensor({300, 700}), context), context};
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

// `method` (registry defaults plus `yaml`) attached to builtin:tiny with a random delta of the
// delta's own scale: what a trained run leaves, without training.
std::unique_ptr<Method> attach_with_random_delta(models::Pipeline& p, const std::string& method, const std::string& yaml) {
  auto m = read_method(cfg::parse_yaml_text("name: " + method + "\n" + yaml, {"test", 0})).build();
  freeze_pipeline(p);
  SubjectData subject = words_only_subject();
  MethodTarget target{p, &subject};
  m->attach(target);
  TensorMap delta = m->delta();
  torch::manual_seed(11);
  for (auto& [key, t] : delta) {
    const double scale = t.numel() > 1 ? std::max(t.std().item<double>(), 0.05) : 0.05;
    t = (t + 0.5 * scale * torch::randn(t.sizes())).detach();
  }
  m->load_delta(delta);
  return m;
}

void check_merge_round_trip(const std::string& method, const std::string& yaml = "") {
  BOOST_TEST_CONTEXT("method " << method) {
    const SubjectData subject = words_only_subject();
    models::Pipeline base = models::load_pipeline(models::kBuiltinTiny);
    models::Pipeline p = models::load_pipeline(models::kBuiltinTiny);
    auto m = attach_with_random_delta(p, method, yaml);
    const std::string prompt = m->eval_prompt(subject.instance_prompt, subject);
    const Predictions expected = predict(p, prompt);
    bake_method_into_pipeline(p, method);
    const fs::path folder = test::scratch_dir("merge_pipeline_" + method);
    fs::remove_all(folder);
    models::export_pipeline(p, folder);
    models::Pipeline merged = models::load_pipeline(folder.string());
    const Predictions got = predict(merged, prompt);
    BOOST_TEST_MESSAGE(method << ": read back, UNet " << max_abs(got.unet - expected.unet) / max_abs(expected.unet)
                              << " and text encoder " << max_abs(got.text - expected.text) / max_abs(expected.text)
                              << " of the largest entry");
    // Equal within fp32 noise, on both outputs.
    BOOST_TEST(max_abs(got.unet - expected.unet) <= 1e-5 * max_abs(expected.unet),
               "UNet differs by " << max_abs(got.unet - expected.unet) << " of " << max_abs(expected.unet));
    BOOST_TEST(max_abs(got.text - expected.text) <= 1e-5 * max_abs(expected.text),
               "text encoder differs by " << max_abs(got.text - expected.text));
    // The delta reached the folder: the base model predicts otherwise (on the subject's own
    // words: a token the method added is not in the base's vocabulary).
    const Predictions frozen = predict(base, subject.instance_prompt);
    BOOST_TEST(max_abs(got.unet - frozen.unet) > 1e-4 * max_abs(frozen.unet), "the merged model equals the base");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(weight_rewrites_and_affine_outputs_fold_to_the_same_predictions) {
  at::set_num_threads(1);
  check_merge_round_trip("lora", "text_encoder: true\n");  // linear outputs in both models
  check_merge_round_trip("loha");
  check_merge_round_trip("lokr");
  check_merge_round_trip("svdiff");
  check_merge_round_trip("ia3");      // per-feature output scales
  check_merge_round_trip("difffit");  // branch scales, biases and norms trained in place
  check_merge_round_trip("dreambooth");  // the whole UNet trained in place: nothing to fold
}

BOOST_AUTO_TEST_CASE(added_tokens_become_rows_of_the_table_and_tokens_of_the_tokenizer) {
  at::set_num_threads(1);
  check_merge_round_trip("textual_inversion");
  check_merge_round_trip("custom_diffusion");  // its modifier token and the K/V it trains in place
  models::Pipeline p = models::load_pipeline(models::kBuiltinTiny);
  const int64_t vocab = p.tokenizer->vocab_size();
  auto m = attach_with_random_delta(p, "custom_diffusion", "modifier_token: <a>+<b>\n");
  bake_method_into_pipeline(p, "custom_diffusion");
  const fs::path folder = test::scratch_dir("merge_pipeline_two_tokens");
  fs::remove_all(folder);
  models::export_pipeline(p, folder);
  const models::Pipeline merged = models::load_pipeline(folder.string());
  BOOST_TEST(merged.tokenizer->vocab_size() == vocab + 2);
  BOOST_TEST(merged.tokenizer->token_id("<b>") == vocab + 1);
  BOOST_TEST(merged.text_encoder->text_model->embeddings->token_embedding->weight.size(0) == vocab + 2);
}

BOOST_AUTO_TEST_CASE(changes_that_are_not_weights_are_refused_naming_the_layer) {
  at::set_num_threads(1);
  auto refused = [](const std::string& method, const std::string& words) {
    models::Pipeline p = models::load_pipeline(models::kBuiltinTiny);
    auto m = attach_with_random_delta(p, method, "");
    const torch::Tensor before = p.unet->named_parameters()["conv_in.weight"].clone();
    BOOST_CHECK_EXCEPTION(bake_method_into_pipeline(p, method), InputError, [&](const InputError& e) {
      const std::string what = e.what();
      BOOST_TEST_MESSAGE(method << ": " << what);
      return what.find(method + ": ") == 0 && what.find(words) != std::string::npos;
    });
    // Refused before anything was folded.
    BOOST_TEST(torch::equal(before, p.unet->named_parameters()["conv_in.weight"]));
  };
  refused("houlsby_adapter", "not affine in its input");  // a nonlinear bottleneck branch
  refused("perfusion", "attn2.to_k");                      // the gated key-locked edit
  refused("p_plus", "context encoder");                    // one encoding per cross-attention layer
  refused("prefix_tuning", "(a prefix)");                  // key/value rows no weight holds
}

BOOST_AUTO_TEST_CASE(a_linear_probe_folds_lora_into_exactly_w_plus_scaled_up_down) {
  // The linear fold against the formula W' = W + (alpha / r) · up · down, independent of forward().
  at::set_num_threads(1);
  models::Pipeline p = models::load_pipeline(models::kBuiltinTiny);
  auto m = attach_with_random_delta(p, "lora", "rank: 2\nalpha: 3\n");
  const TensorMap delta = m->delta();
  std::string layer;
  for (const auto& [key, t] : delta)
    if (key.size() > 10 && key.compare(key.size() - 10, 10, ".lora.down") == 0) {
      layer = key.substr(0, key.size() - 10);
      break;
    }
  BOOST_REQUIRE(!layer.empty());
  const std::string local = layer.substr(std::string("unet.").size());
  const torch::Tensor w = p.unet->named_parameters()[local + ".weight"].clone();
  const torch::Tensor expected =
      w + 1.5 * torch::mm(delta.at(layer + ".lora.up"), delta.at(layer + ".lora.down"));
  bake_method_into_pipeline(p, "lora");
  const torch::Tensor folded = p.unet->named_parameters()[local + ".weight"];
  BOOST_TEST(max_abs(folded - expected) <= 1e-6 * max_abs(expected), "differs by " << max_abs(folded - expected));
  // The parameterization is gone: the state dict has the base model's keys only.
  for (const auto& item : p.unet->named_parameters()) BOOST_TEST(item.key().find(".lora.") == std::string::npos, item.key());
}

namespace {
// `pbench merge` in process, its exit status.
int merge(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"pbench merge"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  return merge_command(int(argv.size()), argv.data());
}

// `method`'s random delta on `model`, saved as a bare delta with the metadata import-delta writes.
fs::path bare_delta(const std::string& model, const std::string& method, const fs::path& file) {
  models::Pipeline p = models::load_pipeline(model);
  auto m = attach_with_random_delta(p, method, "");
  std::map<std::string, std::string> meta = {{"method", method}};
  if (method == "lora") meta["rank"] = "4", meta["alpha"] = "4.000000";  // as import-delta records them
  save_safetensors(file, m->delta(), meta);
  return file;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_command_keeps_a_folder_only_when_it_reads_back_as_the_method) {
  at::set_num_threads(1);
  const fs::path scratch = test::scratch_dir("merge_command");
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  const fs::path lora = bare_delta(models::kBuiltinTiny, "lora", scratch / "lora.safetensors");
  BOOST_TEST(merge({"builtin:tiny", lora.string(), (scratch / "merged").string()}) == 0);
  BOOST_TEST(fs::exists(scratch / "merged" / "unet" / "diffusion_pytorch_model.safetensors"));
  BOOST_TEST(fs::exists(scratch / "merged" / "pbench_merged.json"));
  // Never over an existing folder.
  BOOST_TEST(merge({"builtin:tiny", lora.string(), (scratch / "merged").string()}) == 2);
  // A LoRA of another base model is refused (load_delta names the key), and nothing is left.
  const fs::path other = bare_delta(models::kBuiltinMini, "lora", scratch / "mini_lora.safetensors");
  BOOST_TEST(merge({"builtin:tiny", other.string(), (scratch / "wrong_base").string()}) == 2);
  BOOST_TEST(!fs::exists(scratch / "wrong_base"));
  BOOST_TEST(!fs::exists(scratch / "wrong_base.partial"));
  // A method that is no change of weights is refused, and nothing is left.
  const fs::path prefix = bare_delta(models::kBuiltinTiny, "prefix_tuning", scratch / "prefix.safetensors");
  BOOST_TEST(merge({"builtin:tiny", prefix.string(), (scratch / "prefix_merged").string()}) == 2);
  BOOST_TEST(!fs::exists(scratch / "prefix_merged"));
}
