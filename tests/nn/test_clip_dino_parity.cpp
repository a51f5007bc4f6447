#define BOOST_TEST_MODULE clip_dino_parity
#include <boost/test/unit_test.hpp>
// Parity of the CLIP text/vision towers and the DINO ViT with the reference
// vectors in ../shared/refvectors/{clip_text,clip_vision,dino_vit}: weights
// loaded as a user's are, every `caseN.out.*` (except the informational
// hidden states, which are checked loosely here to localise a failure)
// within tolerance.json. Skipped (77) when ../shared is absent.
#include <fstream>

#include <nlohmann/json.hpp>

#include "framework/models/hf/hf_folder.hpp"
#include "framework/models/image_preprocess.hpp"
#include "framework/models/parity/parity.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
using namespace pbench::models;
namespace fs = std::filesystem;

namespace {

struct RequireShared {
  RequireShared() {
    for (const char* d : {"refvectors/clip_text", "refvectors/clip_vision", "refvectors/dino_vit"})
      pbench::test::require_shared_or_skip(d);
  }
};

fs::path folder(const std::string& name) { return pbench::test::shared_dir() / "refvectors" / name; }

double default_atol(const std::string& name) {
  std::ifstream in(folder(name) / "tolerance.json");
  return nlohmann::json::parse(in).at("default_atol").get<double>();
}

double max_abs(const torch::Tensor& got, const torch::Tensor& want) {
  BOOST_REQUIRE_MESSAGE(got.sizes() == want.sizes(), "shape " << got.sizes() << " vs expected " << want.sizes());
  return (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>();
}

// Every case prefix ("case0", ...) that has an input called `input`.
std::vector<std::string> cases_with(const TensorMap& cases, const std::string& input) {
  std::vector<std::string> out;
  for (const auto& [key, t] : cases) {
    auto pos = key.find(".in." + input);
    if (pos != std::string::npos && pos + 4 + input.size() == key.size()) out.push_back(key.substr(0, pos));
  }
  return out;
}

void check(const std::string& what, const torch::Tensor& got, const torch::Tensor& want, double atol) {
  double d = max_abs(got, want);
  BOOST_TEST_MESSAGE(what << ": max |delta| " << d << " (atol " << atol << ")");
  BOOST_CHECK_MESSAGE(d <= atol, what << ": max |delta| " << d << " > atol " << atol);
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(RequireShared);

BOOST_AUTO_TEST_CASE(clip_text_matches_reference) {
  torch::NoGradGuard no_grad;
  ClipTextModel model = load_clip_text_folder(folder("clip_text"));
  BOOST_REQUIRE(!model->text_projection.is_empty());
  TensorMap cases = load_safetensors(folder("clip_text") / "cases.safetensors");
  const double atol = default_atol("clip_text");
  auto names = cases_with(cases, "input_ids");
  BOOST_REQUIRE_EQUAL(names.size(), 3u);
  for (const auto& c : names) {
    torch::Tensor mask = cases.count(c + ".in.attention_mask") ? cases.at(c + ".in.attention_mask") : torch::Tensor();
    ClipTextOutput out = model->forward(cases.at(c + ".in.input_ids"), mask);
    check(c + ".out.last_hidden_state", out.last_hidden_state, cases.at(c + ".out.last_hidden_state"), atol);
    check(c + ".out.pooler_output", out.pooler_output, cases.at(c + ".out.pooler_output"), atol);
    check(c + ".out.text_embeds", out.text_embeds, cases.at(c + ".out.text_embeds"), atol);
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      std::string key = c + ".out.hidden_states." + std::to_string(i);
      BOOST_REQUIRE(cases.count(key));
      check(key, out.hidden_states[i], cases.at(key), 10 * atol);  // informational: loose
    }
  }
}

BOOST_AUTO_TEST_CASE(clip_text_mask_changes_only_padded_positions) {
  // case2 with and without its attention_mask: pooled/text_embeds equal (the
  // first EOT only sees real tokens), padded positions differ (the mask bites).
  torch::NoGradGuard no_grad;
  ClipTextModel model = load_clip_text_folder(folder("clip_text"));
  TensorMap cases = load_safetensors(folder("clip_text") / "cases.safetensors");
  torch::Tensor ids = cases.at("case2.in.input_ids"), mask = cases.at("case2.in.attention_mask");
  ClipTextOutput with = model->forward(ids, mask), without = model->forward(ids);
  BOOST_CHECK_LT(max_abs(with.text_embeds, without.text_embeds), 1e-6);
  torch::Tensor padded = mask.eq(0).unsqueeze(-1);
  BOOST_CHECK_GT((with.last_hidden_state - without.last_hidden_state).abs().masked_select(padded).max().item<double>(),
                 1e-3);
}

BOOST_AUTO_TEST_CASE(clip_vision_matches_reference) {
  torch::NoGradGuard no_grad;
  ClipVisionModel model = load_clip_vision_folder(folder("clip_vision"));
  BOOST_REQUIRE(!model->visual_projection.is_empty());
  TensorMap cases = load_safetensors(folder("clip_vision") / "cases.safetensors");
  const double atol = default_atol("clip_vision");
  auto names = cases_with(cases, "pixel_values");
  BOOST_REQUIRE_EQUAL(names.size(), 4u);
  for (const auto& c : names) {
    ClipVisionOutput out = model->forward(cases.at(c + ".in.pixel_values"));
    check(c + ".out.last_hidden_state", out.last_hidden_state, cases.at(c + ".out.last_hidden_state"), atol);
    check(c + ".out.pooler_output", out.pooler_output, cases.at(c + ".out.pooler_output"), atol);
    check(c + ".out.image_embeds", out.image_embeds, cases.at(c + ".out.image_embeds"), atol);
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      std::string key = c + ".out.hidden_states." + std::to_string(i);
      BOOST_REQUIRE(cases.count(key));
      check(key, out.hidden_states[i], cases.at(key), 10 * atol);
    }
  }
}

BOOST_AUTO_TEST_CASE(dino_vit_matches_reference) {
  torch::NoGradGuard no_grad;
  DinoVitModel model = load_dino_vit_folder(folder("dino_vit"));
  TensorMap cases = load_safetensors(folder("dino_vit") / "cases.safetensors");
  const double atol = default_atol("dino_vit");
  auto names = cases_with(cases, "pixel_values");
  BOOST_REQUIRE_EQUAL(names.size(), 3u);
  for (const auto& c : names) {
    DinoVitOutput out = model->forward(cases.at(c + ".in.pixel_values"));
    check(c + ".out.cls", out.cls, cases.at(c + ".out.cls"), atol);
    check(c + ".out.last_hidden_state", out.last_hidden_state, cases.at(c + ".out.last_hidden_state"), atol);
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      std::string key = c + ".out.hidden_states." + std::to_string(i);
      BOOST_REQUIRE(cases.count(key));
      check(key, out.hidden_states[i], cases.at(key), 10 * atol);
    }
  }
}

namespace {
double preprocess_atol(const std::string& name) {
  std::ifstream in(folder(name) / "tolerance.json");
  return nlohmann::json::parse(in).at("preprocess").at("atol").get<double>();
}
}  // namespace

BOOST_AUTO_TEST_CASE(clip_preprocessing_matches_reference_pixel_values) {
  ClipImageProcessorConfig config = read_clip_image_processor(folder("clip_vision") / "preprocessor_config.json");
  TensorMap cases = load_safetensors(folder("clip_vision") / "cases.safetensors");
  auto names = cases_with(cases, "image_u8");
  BOOST_REQUIRE_EQUAL(names.size(), 2u);  // one square at native size, one 40x56 that is resized
  for (const auto& c : names) {
    torch::Tensor got = clip_preprocess(cases.at(c + ".in.image_u8"), config);
    check(c + " preprocess", got, cases.at(c + ".in.pixel_values"), preprocess_atol("clip_vision"));
    // Pillow's bicubic is reproduced, so the gap is float rounding only.
    check(c + " preprocess (exact PIL)", got, cases.at(c + ".in.pixel_values"), 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(dino_preprocessing_matches_reference_pixel_values) {
  TensorMap cases = load_safetensors(folder("dino_vit") / "cases.safetensors");
  auto names = cases_with(cases, "image_u8");
  BOOST_REQUIRE_EQUAL(names.size(), 1u);
  for (const auto& c : names) {
    torch::Tensor got = dino_normalize(cases.at(c + ".in.image_u8"), 32);
    check(c + " preprocess", got, cases.at(c + ".in.pixel_values"), preprocess_atol("dino_vit"));
  }
}

BOOST_AUTO_TEST_CASE(pbench_parity_components_pass_on_shared_folders) {
  for (const char* name : {"clip_text", "clip_vision", "dino_vit"}) {
    const parity::Component* component = parity::find_component(name);
    BOOST_REQUIRE_MESSAGE(component, name << " is registered");
    parity::Report report = parity::run(*component, folder(name));
    BOOST_CHECK_MESSAGE(report.pass, parity::report_table(report));
    BOOST_CHECK_GE(report.outputs.size(), 3u);
  }
}

BOOST_AUTO_TEST_CASE(pbench_parity_fails_on_perturbed_weights) {
  // Same config and cases, one LayerNorm bias nudged by 1e-3: the gate must see it.
  fs::path dir = pbench::test::scratch_dir("clip_text_perturbed");
  for (const char* f : {"config.json", "cases.safetensors", "tolerance.json"}) fs::copy(folder("clip_text") / f, dir / f);
  TensorMap weights = load_safetensors(folder("clip_text") / "model.safetensors");
  weights.at("text_model.final_layer_norm.bias") = weights.at("text_model.final_layer_norm.bias") + 1e-3;
  save_safetensors(dir / "model.safetensors", weights);
  parity::Report report = parity::run(*parity::find_component("clip_text"), dir);
  BOOST_CHECK(!report.pass);
}
