#define BOOST_TEST_MODULE clip_dino_models
#include <boost/test/unit_test.hpp>
// CLIP/DINO models without ../shared: config parsing and its errors, meta vs
// CPU parameter counts, first-EOT pooling with Textual Inversion ids,
// preprocessing geometry.
#include <fstream>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"
#include "framework/models/image_preprocess.hpp"
#include "framework/models/hf/param_count.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
using namespace pbench::models;
namespace fs = std::filesystem;

namespace {

fs::path write_config(const std::string& name, const nlohmann::json& j) {
  fs::path dir = pbench::test::scratch_dir("clip_dino_models_" + name);
  std::ofstream(dir / "config.json") << j.dump();
  return dir / "config.json";
}

nlohmann::json tiny_text(const std::string& arch = "CLIPTextModelWithProjection") {
  return {{"model_type", "clip_text_model"}, {"architectures", {arch}}, {"hidden_size", 16},
          {"intermediate_size", 40}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"vocab_size", 49410}, {"max_position_embeddings", 12}, {"projection_dim", 8}, {"eos_token_id", 2}};
}
nlohmann::json tiny_vision() {
  return {{"model_type", "clip_vision_model"}, {"architectures", {"CLIPVisionModelWithProjection"}},
          {"hidden_size", 24}, {"intermediate_size", 48}, {"num_hidden_layers", 1}, {"num_attention_heads", 3},
          {"image_size", 16}, {"patch_size", 4}, {"projection_dim", 8}};
}
nlohmann::json tiny_vit(bool qkv_bias) {
  return {{"model_type", "vit"}, {"hidden_size", 12}, {"intermediate_size", 20}, {"num_hidden_layers", 2},
          {"num_attention_heads", 2}, {"image_size", 16}, {"patch_size", 8}, {"qkv_bias", qkv_bias}};
}

bool throws_input_error_mentioning(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const InputError& e) {
    std::string m = e.what();
    for (const auto& p : parts)
      if (m.find(p) == std::string::npos) return false;
    return true;
  }
  return false;
}

int64_t cpu_count(const fs::path& config) {
  JsonSection root = read_json_section(config);
  switch (detect_model_kind(root)) {
    case HfModelKind::kClipText: return count_parameters(*ClipTextModel(clip_text_config_of(root)));
    case HfModelKind::kClipVision: return count_parameters(*ClipVisionModel(clip_vision_config_of(root)));
    case HfModelKind::kVit: return count_parameters(*DinoVitModel(parse_vit_config(root)));
    default: return -1;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(meta_counts_equal_cpu_built_counts_and_shapes) {
  for (const auto& [name, j] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"text", tiny_text()}, {"text_noproj", tiny_text("CLIPTextModel")}, {"vision", tiny_vision()},
           {"vit", tiny_vit(true)}, {"vit_nobias", tiny_vit(false)}}) {
    fs::path f = write_config(name, j);
    ParamCount meta = count_params_from_config(f.parent_path());
    BOOST_CHECK_EQUAL(meta.total, cpu_count(f));
  }
  // Hand count of the tiny text tower (D=16, I=40, L=2, V=49410, P=12, proj 8):
  const int64_t d = 16, i = 40, layer = 4 * (d * d + d) + 2 * 2 * d + (d * i + i) + (i * d + d);
  const int64_t text = 49410 * d + 12 * d + 2 * layer + 2 * d;
  BOOST_CHECK_EQUAL(count_params_from_config(write_config("t2", tiny_text("CLIPTextModel"))).total, text);
  BOOST_CHECK_EQUAL(count_params_from_config(write_config("t3", tiny_text())).total, text + d * 8);
  // qkv_bias=false drops 3 biases per layer.
  BOOST_CHECK_EQUAL(count_params_from_config(write_config("v1", tiny_vit(true))).total -
                        count_params_from_config(write_config("v2", tiny_vit(false))).total,
                    2 * 3 * 12);
}

BOOST_AUTO_TEST_CASE(nested_clip_model_config_uses_top_level_projection_dim) {
  nlohmann::json j = {{"model_type", "clip"}, {"projection_dim", 6}, {"text_config", tiny_text()},
                      {"vision_config", tiny_vision()}};
  ParamCount c = count_params_from_config(write_config("clipmodel", j));
  BOOST_REQUIRE_EQUAL(c.components.size(), 3u);
  ClipTextConfig tc = clip_text_config_of(read_json_section(write_config("clipmodel2", j)));
  BOOST_CHECK_EQUAL(tc.projection_dim, 6);
  BOOST_CHECK(tc.with_projection);
  BOOST_CHECK_EQUAL(c.total, c.components[0].params + c.components[1].params + 1);
}

BOOST_AUTO_TEST_CASE(config_errors_name_file_and_key) {
  nlohmann::json bad_act = tiny_text();
  bad_act["hidden_act"] = "swish_of_doom";
  fs::path f = write_config("bad_act", bad_act);
  BOOST_CHECK(throws_input_error_mentioning([&] { count_params_from_config(f); },
                                            {f.string(), "hidden_act", "swish_of_doom"}));
  nlohmann::json heads = tiny_vision();
  heads["num_attention_heads"] = 5;
  fs::path g = write_config("bad_heads", heads);
  BOOST_CHECK(throws_input_error_mentioning([&] { count_params_from_config(g); }, {g.string(), "num_attention_heads"}));
  nlohmann::json nested = {{"model_type", "clip"}, {"text_config", tiny_text()},
                           {"vision_config", {{"hidden_size", "big"}}}};
  fs::path n = write_config("bad_nested", nested);
  BOOST_CHECK(throws_input_error_mentioning([&] { count_params_from_config(n); }, {"vision_config.hidden_size"}));
  fs::path u = write_config("controlnet", {{"_class_name", "ControlNetModel"}});
  BOOST_CHECK(throws_input_error_mentioning([&] { count_params_from_config(u); }, {"ControlNetModel"}));
}

BOOST_AUTO_TEST_CASE(pooling_takes_first_eot_even_with_textual_inversion_ids) {
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  ClipTextModel model(clip_text_config_of(read_json_section(write_config("ti", tiny_text()))));
  // Row 0: SOT, added token 49409 (> EOT), EOT at 3, padding EOTs; argmax would pick index 2.
  torch::Tensor ids = torch::tensor({49406, 320, 49409, 49407, 49407, 49407, 49407, 49407, 49407, 49407, 49407, 49407,
                                     49406, 320, 321, 322, 49407, 49407, 49407, 49407, 49407, 49407, 49407, 49407},
                                    torch::kInt64)
                          .view({2, 12});
  ClipTextOutput out = model->forward(ids);
  BOOST_CHECK(torch::equal(first_eot_positions(ids, kClipEotTokenId), torch::tensor({3, 4}, torch::kInt64)));
  BOOST_CHECK(torch::allclose(out.pooler_output[0], out.last_hidden_state[0][3]));
  BOOST_CHECK(torch::allclose(out.pooler_output[1], out.last_hidden_state[1][4]));
  BOOST_CHECK(!torch::allclose(out.pooler_output[0], out.last_hidden_state[0][2]));
  BOOST_CHECK_EQUAL(out.text_embeds.size(1), 8);
  // Causal: changing a later token leaves earlier positions unchanged.
  torch::Tensor ids2 = ids.clone();
  ids2[0][5] = 500;
  ClipTextOutput out2 = model->forward(ids2);
  BOOST_CHECK(torch::allclose(out.last_hidden_state[0].slice(0, 0, 5), out2.last_hidden_state[0].slice(0, 0, 5)));
  BOOST_CHECK(!torch::allclose(out.last_hidden_state[0][5], out2.last_hidden_state[0][5]));
  // A row without EOT is an input error, not a silent wrong pooling.
  BOOST_CHECK_THROW(model->forward(torch::full({1, 12}, 320, torch::kInt64)), InputError);
}

BOOST_AUTO_TEST_CASE(vision_models_reject_wrong_image_sizes) {
  ClipVisionModel clip(clip_vision_config_of(read_json_section(write_config("vis", tiny_vision()))));
  BOOST_CHECK_THROW(clip->forward(torch::zeros({1, 3, 32, 32})), InputError);
  BOOST_CHECK_EQUAL(clip->forward(torch::zeros({2, 3, 16, 16})).image_embeds.size(0), 2);
  DinoVitModel vit(parse_vit_config(read_json_section(write_config("vit", tiny_vit(true)))));
  BOOST_CHECK_EQUAL(vit->forward(torch::randn({2, 3, 16, 16})).cls.size(1), 12);
}

BOOST_AUTO_TEST_CASE(preprocessing_geometry) {
  // A constant image stays constant through the bicubic resize (weights sum to 1).
  torch::Tensor flat = torch::full({40, 56, 3}, 77, torch::kUInt8);
  torch::Tensor r = resize_like_pil(flat, 32, 44, ResampleFilter::kBicubic);
  BOOST_CHECK_EQUAL(r.size(0), 32);
  BOOST_CHECK_EQUAL(r.size(1), 44);
  BOOST_CHECK(r.eq(77).all().item<bool>());
  // A ramp stays monotone (no ringing past the ends for a linear signal).
  torch::Tensor ramp = torch::arange(64, torch::kUInt8).mul(4).view({1, 64, 1}).expand({4, 64, 3}).contiguous();
  torch::Tensor rr = resize_like_pil(ramp, 4, 16, ResampleFilter::kBicubic)[0].select(1, 0).to(torch::kInt32);
  BOOST_CHECK((rr.slice(0, 1) - rr.slice(0, 0, -1)).ge(0).all().item<bool>());
  // torchvision's CenterCrop rounds half offsets to even: (13)/2 = 6.5 -> 6, 15/2 = 7.5 -> 8.
  torch::Tensor idx = torch::arange(45, torch::kInt32).view({45, 1, 1});
  BOOST_CHECK_EQUAL(center_crop(idx, 32, 1)[0][0][0].item<int>(), 6);
  torch::Tensor idx2 = torch::arange(47, torch::kInt32).view({47, 1, 1});
  BOOST_CHECK_EQUAL(center_crop(idx2, 32, 1)[0][0][0].item<int>(), 8);
  // Normalisation: 255 -> (1 - mean) / std.
  torch::Tensor white = dino_normalize(torch::full({8, 8, 3}, 255, torch::kUInt8), 8);
  BOOST_CHECK_CLOSE(white[0][0][0][0].item<double>(), (1 - 0.485) / 0.229, 1e-4);
  BOOST_CHECK_THROW(dino_normalize(torch::zeros({8, 9, 3}, torch::kUInt8), 8), InputError);
}
