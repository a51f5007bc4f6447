#define BOOST_TEST_MODULE params_diffusers
#include <boost/test/unit_test.hpp>

#include "framework/models/hf/param_count.hpp"
#include "framework/models/sd/unet_config.hpp"
#include "tests/nn/formulas/unet_vae_param_count.hpp"
#include "tests/support/test_paths.hpp"

// `pbench params` on diffusers configs and pipeline folders: the shipped SD
// v1.5 configs against the reference counts (full_configs/params.json), and
// per-module counts against the analytic counter.

using namespace pbench::models;
namespace fs = std::filesystem;

namespace {
struct SharedFixture {
  SharedFixture() { pbench::test::require_shared_or_skip("refvectors/full_configs/params.json"); }
};
BOOST_TEST_GLOBAL_FIXTURE(SharedFixture);

nlohmann::json reference() {
  return read_json_file((pbench::test::shared_dir() / "refvectors" / "full_configs" / "params.json").string());
}
fs::path sd15() { return pbench::test::source_dir() / "framework" / "assets" / "sd15"; }

int64_t group(const std::vector<ParamGroup>& groups, const std::string& name) {
  for (const auto& g : groups)
    if (g.name == name) return g.params;
  BOOST_FAIL("no group " + name);
  return -1;
}
}  // namespace

BOOST_AUTO_TEST_CASE(sd15_pipeline_folder_counts_every_component) {
  auto ref = reference();
  ParamCount c = count_params_from_config(sd15());
  BOOST_TEST(c.architecture == "StableDiffusionPipeline");
  BOOST_TEST(group(c.components, "unet") == ref["sd15_unet"]["total_trainable"].get<int64_t>());
  BOOST_TEST(group(c.components, "vae") == ref["sd15_vae"]["total_trainable"].get<int64_t>());
  BOOST_TEST(group(c.components, "text_encoder") == ref["sd15_text_encoder"]["total_trainable"].get<int64_t>());
  BOOST_TEST(c.total == ref["sd15_unet"]["total_trainable"].get<int64_t>() +
                            ref["sd15_vae"]["total_trainable"].get<int64_t>() +
                            ref["sd15_text_encoder"]["total_trainable"].get<int64_t>());
  for (const char* part : {"encoder", "decoder", "quant_conv", "post_quant_conv"})
    BOOST_TEST(group(c.modules, std::string("vae.") + part) == ref["sd15_vae"][part].get<int64_t>(), part);
  int64_t sum = 0;
  for (const auto& m : c.modules) sum += m.params;
  BOOST_TEST(sum == c.total);
}

BOOST_AUTO_TEST_CASE(unet_config_counts_match_the_analytic_counter) {
  fs::path file = sd15() / "unet" / "config.json";
  ParamCount c = count_params_from_config(file);
  BOOST_TEST(c.architecture == "UNet2DConditionModel");
  auto analytic = count_unet_params(UNetConfig::from_file(file.string()));
  BOOST_TEST(c.total == reference()["sd15_unet"]["total_trainable"].get<int64_t>());
  for (const auto& [name, n] : analytic)
    if (name != "total") BOOST_TEST(group(c.modules, name) == n, name);
}

BOOST_AUTO_TEST_CASE(vae_config_is_detected_by_class_name) {
  ParamCount c = count_params_from_config(sd15() / "vae" / "config.json");
  BOOST_TEST(c.architecture == "AutoencoderKL");
  BOOST_TEST(c.total == reference()["sd15_vae"]["total_trainable"].get<int64_t>());
  BOOST_TEST(group(c.modules, "encoder") == reference()["sd15_vae"]["encoder"].get<int64_t>());
}
