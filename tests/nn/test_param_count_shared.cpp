#define BOOST_TEST_MODULE param_count_shared
#include <boost/test/unit_test.hpp>
// Exact parameter counts of full-size configs against
// ../shared/refvectors/full_configs/params.json, and the tiny refvector
// models' module keys against their model.safetensors. Skipped when absent.
#include <fstream>

#include <nlohmann/json.hpp>

#include "framework/models/hf/param_count.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
using namespace pbench::models;
namespace fs = std::filesystem;

namespace {
struct RequireShared {
  RequireShared() { pbench::test::require_shared_or_skip("refvectors/full_configs/params.json"); }
};
fs::path refvectors() { return pbench::test::shared_dir() / "refvectors"; }
nlohmann::json params_json() {
  std::ifstream in(refvectors() / "full_configs" / "params.json");
  return nlohmann::json::parse(in);
}
int64_t component(const ParamCount& c, const std::string& name) {
  for (const auto& g : c.components)
    if (g.name == name) return g.params;
  BOOST_FAIL("no component " << name);
  return -1;
}
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(RequireShared);

BOOST_AUTO_TEST_CASE(clip_vit_b32) {
  nlohmann::json want = params_json().at("clip_vit_base_patch32");
  ParamCount c = count_params_from_config(refvectors() / "full_configs" / "clip_vit_base_patch32_config.json");
  BOOST_CHECK_EQUAL(c.total, want.at("total_trainable").get<int64_t>());
  BOOST_CHECK_EQUAL(component(c, "clip_vision"), want.at("vision_tower_incl_visual_projection").get<int64_t>());
  BOOST_CHECK_EQUAL(component(c, "clip_text"), want.at("text_tower_incl_text_projection").get<int64_t>());
  BOOST_CHECK_EQUAL(component(c, "logit_scale"), want.at("logit_scale").get<int64_t>());
}

BOOST_AUTO_TEST_CASE(dino_vits16) {
  ParamCount c = count_params_from_config(refvectors() / "full_configs" / "dino_vits16_config.json");
  BOOST_CHECK_EQUAL(c.total, params_json().at("dino_vits16").at("total_trainable").get<int64_t>());
}

BOOST_AUTO_TEST_CASE(sd15_text_encoder) {
  nlohmann::json want = params_json().at("sd15_text_encoder");
  ParamCount c = count_params_from_config(refvectors() / "full_configs" / "sd15_text_encoder_config.json");
  BOOST_CHECK_EQUAL(c.architecture, "CLIPTextModel");
  BOOST_CHECK_EQUAL(c.total, want.at("total_trainable").get<int64_t>());
}

BOOST_AUTO_TEST_CASE(tiny_refvector_counts_equal_stored_tensors) {
  // Parameters in the file = every tensor except the position_ids buffers.
  for (const char* name : {"clip_text", "clip_vision", "dino_vit"}) {
    TensorMap weights = load_safetensors(refvectors() / name / "model.safetensors");
    int64_t stored = 0;
    for (const auto& [key, t] : weights)
      if (key.find("position_ids") == std::string::npos) stored += t.numel();
    BOOST_CHECK_EQUAL(count_params_from_config(refvectors() / name).total, stored);
  }
}
