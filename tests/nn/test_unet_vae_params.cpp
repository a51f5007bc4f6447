#define BOOST_TEST_MODULE unet_vae_params
#include <boost/test/unit_test.hpp>

#include "tests/nn/formulas/unet_vae_param_count.hpp"
#include "tests/support/test_paths.hpp"

// SD v1.5 UNet / VAE parameter counts from their config.json alone, against
// the counts of the reference implementation (full_configs/params.json).

using namespace pbench::models;

namespace {
struct SharedFixture {
  SharedFixture() { pbench::test::require_shared_or_skip("refvectors/full_configs"); }
};
BOOST_TEST_GLOBAL_FIXTURE(SharedFixture);

std::string full(const std::string& name) {
  return (pbench::test::shared_dir() / "refvectors" / "full_configs" / name).string();
}
}  // namespace

BOOST_AUTO_TEST_CASE(sd15_unet) {
  auto expected = read_json_file(full("params.json")).at("sd15_unet");
  auto config = UNetConfig::from_file(full("sd15_unet_config.json"));
  auto counts = count_unet_params(config);
  BOOST_TEST(counts.at("total") == expected.at("total_trainable").get<int64_t>());
  int64_t sum = 0;
  for (const auto& [name, n] : counts)
    if (name != "total") sum += n;
  BOOST_TEST(sum == counts.at("total"));

  auto attn = count_unet_attention_params(config);
  BOOST_TEST(attn.at("modules") == expected.at("attention_modules").get<int64_t>());
  BOOST_TEST(attn.at("projection_weights") == expected.at("attention_projection_weights_to_q_k_v_out0").get<int64_t>());
  BOOST_TEST(attn.at("attn1_projection_weights") == expected.at("attention_projection_weights_attn1_self").get<int64_t>());
  BOOST_TEST(attn.at("attn2_projection_weights") == expected.at("attention_projection_weights_attn2_cross").get<int64_t>());
  BOOST_TEST(attn.at("to_out_biases") == expected.at("attention_projection_to_out0_biases").get<int64_t>());
  BOOST_TEST(attn.at("cross_attn_to_k_to_v_weights") ==
             expected.at("custom_diffusion_cross_attn_to_k_to_v_weights").get<int64_t>());
}

BOOST_AUTO_TEST_CASE(sd15_vae) {
  auto expected = read_json_file(full("params.json")).at("sd15_vae");
  auto counts = count_vae_params(read_json_file(full("sd15_vae_config.json")));
  BOOST_TEST(counts.at("total") == expected.at("total_trainable").get<int64_t>());
  for (const char* part : {"encoder", "decoder", "quant_conv", "post_quant_conv"})
    BOOST_TEST(counts.at(part) == expected.at(part).get<int64_t>(), part);
}
