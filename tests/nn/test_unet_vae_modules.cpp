#define BOOST_TEST_MODULE unet_vae_modules
#include <boost/test/unit_test.hpp>

#include <regex>

#include "framework/models/sd/unet.hpp"
#include "tests/nn/formulas/unet_vae_param_count.hpp"
#include "framework/models/sd/vae.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/tiny_configs.hpp"

// UNet / VAE structure on tiny configs (no shared data needed): diffusers key
// names, analytic parameter counts equal the real modules', finite gradients,
// timestep broadcasting, legacy attention renaming, config validation.

using namespace pbench::models;
using nlohmann::json;

namespace {

using pbench::fixtures::tiny_unet_json;

// SD 2.x-like variant: linear projections, per-block heads, three blocks,
// two transformer layers, per-block layer counts.
json variant_unet_json() {
  return json{{"block_out_channels", {16, 32, 48}},
              {"layers_per_block", {1, 2, 1}},
              {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 24},
              {"attention_head_dim", {2, 4, 8}},
              {"transformer_layers_per_block", 2},
              {"use_linear_projection", true},
              {"norm_num_groups", 8}};
}

json tiny_vae_json(std::vector<int64_t> channels) {
  return json{{"block_out_channels", channels}, {"layers_per_block", 1}, {"latent_channels", 4}, {"norm_num_groups", 8}};
}

// Real parameter counts of a module grouped by top-level child.
std::map<std::string, int64_t> real_counts(torch::nn::Module& m) {
  std::map<std::string, int64_t> out;
  for (const auto& p : m.named_parameters()) {
    out[p.key().substr(0, p.key().find('.'))] += p.value().numel();
    out["total"] += p.value().numel();
  }
  return out;
}

std::set<std::string> names(torch::nn::Module& m) {
  std::set<std::string> out;
  for (const auto& p : m.named_parameters()) out.insert(p.key());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(unet_names_follow_diffusers) {
  UNet2DCondition unet(UNetConfig::from_json(tiny_unet_json(), "tiny"));
  auto n = names(*unet);
  for (const char* key : {"conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
                          "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                          "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.bias",
                          "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
                          "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight",
                          "down_blocks.0.downsamplers.0.conv.weight", "down_blocks.1.resnets.0.conv_shortcut.weight",
                          "mid_block.resnets.1.conv2.weight", "mid_block.attentions.0.proj_in.weight",
                          "up_blocks.0.upsamplers.0.conv.weight", "up_blocks.1.resnets.1.conv_shortcut.weight",
                          "up_blocks.1.attentions.1.norm.weight", "conv_norm_out.weight", "conv_out.bias"})
    BOOST_TEST(n.count(key) == 1u, key);
  // The UNet's q/k/v carry no bias; the last block has no downsampler, the last up block no upsampler.
  for (const char* key : {"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias",
                          "down_blocks.1.downsamplers.0.conv.weight", "up_blocks.1.upsamplers.0.conv.weight"})
    BOOST_TEST(n.count(key) == 0u, key);
  BOOST_TEST(n.size() == 208u);  // the tensor count of the reference tiny model
}

BOOST_AUTO_TEST_CASE(linear_projection_shapes) {
  UNet2DCondition unet(UNetConfig::from_json(variant_unet_json(), "variant"));
  auto params = unet->named_parameters();
  BOOST_TEST(params["down_blocks.0.attentions.0.proj_in.weight"].sizes() == torch::IntArrayRef({16, 16}));
  BOOST_TEST(params["down_blocks.1.attentions.1.transformer_blocks.1.attn2.to_k.weight"].sizes() ==
             torch::IntArrayRef({32, 24}));
  BOOST_TEST(params.contains("up_blocks.1.resnets.2.conv_shortcut.weight"));
}

BOOST_AUTO_TEST_CASE(analytic_unet_counts_equal_module_counts) {
  for (const json& j : {tiny_unet_json(), variant_unet_json()}) {
    UNetConfig config = UNetConfig::from_json(j, "cfg");
    UNet2DCondition unet(config);
    auto expected = real_counts(*unet);
    auto counted = count_unet_params(j);
    BOOST_TEST(counted.size() == expected.size());
    for (const auto& [name, count] : expected) BOOST_TEST(counted[name] == count, name);

    // Attention projections, by name as params.json counts them.
    std::map<std::string, int64_t> attn;
    std::regex proj(R"(.*\.(attn[12])\.(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$)");
    for (const auto& p : unet->named_parameters()) {
      std::smatch m;
      if (!std::regex_match(p.key(), m, proj)) continue;
      if (m[3] == "bias") {
        attn["to_out_biases"] += p.value().numel();
      } else {
        attn[m[1].str() + "_projection_weights"] += p.value().numel();
        attn["projection_weights"] += p.value().numel();
        if (m[1] == "attn2" && (m[2] == "to_k" || m[2] == "to_v")) attn["cross_attn_to_k_to_v_weights"] += p.value().numel();
      }
      if (m[2] == "to_q" && m[3] == "weight") attn["modules"] += 1;
    }
    auto counted_attn = count_unet_attention_params(config);
    BOOST_TEST(counted_attn.size() == attn.size());
    for (const auto& [name, count] : attn) BOOST_TEST(counted_attn[name] == count, name << " " << counted_attn[name] << " vs " << count);
  }
}

BOOST_AUTO_TEST_CASE(analytic_vae_counts_equal_module_counts) {
  for (const auto& channels : {std::vector<int64_t>{32, 64}, std::vector<int64_t>{8, 16, 24}}) {
    AutoencoderKL vae(VaeConfig::from_json(tiny_vae_json(channels), "vae"));
    auto expected = real_counts(*vae);
    auto counted = count_vae_params(tiny_vae_json(channels));
    BOOST_TEST(counted.size() == expected.size());
    for (const auto& [name, count] : expected) BOOST_TEST(counted[name] == count, name);
  }
}

BOOST_AUTO_TEST_CASE(tiny_unet_forward_backward_gives_finite_gradients) {
  torch::manual_seed(7);
  UNet2DCondition unet(UNetConfig::from_json(tiny_unet_json(), "tiny"));
  auto sample = torch::randn({2, 4, 8, 8});
  auto context = torch::randn({2, 77, 32});
  auto out = unet->forward(sample, torch::tensor({10, 900}), context);
  BOOST_TEST(out.sizes() == sample.sizes());
  (out * torch::randn_like(out)).sum().backward();
  for (const auto& p : unet->named_parameters()) {
    BOOST_REQUIRE_MESSAGE(p.value().grad().defined(), p.key() + " has no gradient");
    BOOST_TEST(torch::isfinite(p.value().grad()).all().item<bool>(), p.key());
    // attn key biases do not exist here; every weight influences the output.
    BOOST_TEST(p.value().grad().abs().sum().item<double>() > 0.0, p.key());
  }
}

BOOST_AUTO_TEST_CASE(timestep_forms_broadcast_like_diffusers) {
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  UNet2DCondition unet(UNetConfig::from_json(tiny_unet_json(), "tiny"));
  auto sample = torch::randn({2, 4, 8, 8});
  auto context = torch::randn({2, 7, 32});
  auto scalar = unet->forward(sample, torch::tensor(500), context);
  auto vector = unet->forward(sample, torch::tensor({500, 500}), context);
  auto single = unet->forward(sample, torch::tensor({500.0f}), context);
  auto mixed = unet->forward(sample, torch::tensor({500, 20}), context);
  BOOST_TEST(torch::equal(scalar, vector));
  BOOST_TEST(torch::allclose(scalar, single));
  BOOST_TEST(torch::equal(mixed[0], scalar[0]));
  BOOST_TEST(!torch::allclose(mixed[1], scalar[1]));
  BOOST_CHECK_THROW(unet->forward(sample, torch::tensor({1, 2, 3}), context), pbench::InputError);
}

BOOST_AUTO_TEST_CASE(timestep_embedding_values) {
  // dim 4, no shift: freqs = exp(-ln(1e4) * [0, 1] / 2) = [1, 0.01]; flipped -> [cos, sin].
  auto e = timestep_embedding(torch::tensor({3.0f}), 4, true, 0);
  auto expected = torch::tensor({{std::cos(3.0f), std::cos(0.03f), std::sin(3.0f), std::sin(0.03f)}});
  BOOST_TEST(torch::allclose(e, expected, 1e-6, 1e-6));
  auto unflipped = timestep_embedding(torch::tensor({3.0f}), 4, false, 1);  // shift 1: freqs [1, 1e-4]
  BOOST_TEST(torch::allclose(unflipped, torch::tensor({{std::sin(3.0f), std::sin(3e-4f), std::cos(3.0f), std::cos(3e-4f)}}),
                             1e-6, 1e-6));
}

BOOST_AUTO_TEST_CASE(legacy_vae_attention_names_are_converted) {
  torch::manual_seed(5);
  AutoencoderKL vae(VaeConfig::from_json(tiny_vae_json({8, 16}), "vae"));
  pbench::TensorMap current, legacy;
  for (const auto& p : vae->named_parameters()) current[p.key()] = torch::randn_like(p.value());
  const std::map<std::string, std::string> old{{"to_q", "query"}, {"to_k", "key"}, {"to_v", "value"}, {"to_out.0", "proj_attn"}};
  int renamed = 0;
  for (const auto& [name, value] : current) {
    std::string legacy_name = name;
    torch::Tensor v = value;
    for (const auto& [now, before] : old) {
      auto pos = name.find(".attentions.0." + now + ".");
      if (pos == std::string::npos) continue;
      legacy_name = name.substr(0, pos) + ".attentions.0." + before + name.substr(pos + 14 + now.size());
      // Half of them as 1x1 conv weights, as very old checkpoints stored them.
      if (v.dim() == 2 && renamed % 2 == 0) v = v.unsqueeze(-1).unsqueeze(-1);
      ++renamed;
    }
    legacy[legacy_name] = v;
  }
  BOOST_TEST(renamed == 16);  // encoder + decoder: 4 projections x weight/bias
  BOOST_TEST(legacy.count("encoder.mid_block.attentions.0.proj_attn.weight") == 1u);
  auto converted = convert_legacy_vae_attention(legacy);
  BOOST_TEST(converted.size() == current.size());
  for (const auto& [name, value] : current) {
    BOOST_REQUIRE_MESSAGE(converted.count(name), name);
    BOOST_TEST(torch::equal(converted[name], value), name);
  }
  load_vae_weights(*vae, legacy, "legacy.safetensors");
  BOOST_TEST(torch::equal(vae->named_parameters()["decoder.mid_block.attentions.0.to_out.0.weight"],
                          current["decoder.mid_block.attentions.0.to_out.0.weight"]));
}

BOOST_AUTO_TEST_CASE(vae_posterior_sampling) {
  torch::manual_seed(11);
  torch::NoGradGuard no_grad;
  AutoencoderKL vae(VaeConfig::from_json(tiny_vae_json({8, 16}), "vae"));
  auto image = torch::rand({1, 3, 16, 16}) * 2 - 1;
  auto dist = vae->encode(image);
  BOOST_TEST(dist.mean.sizes() == torch::IntArrayRef({1, 4, 8, 8}));
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(42);
  auto g2 = at::make_generator<at::CPUGeneratorImpl>(42);
  auto a = dist.sample(g1);
  auto eps = at::randn(dist.mean.sizes(), g2, dist.mean.options());
  BOOST_TEST(torch::equal(a, dist.mean + dist.std * eps));
  BOOST_TEST(!torch::equal(a, dist.mode()));
  // logvar is clamped like the reference.
  auto extreme = LatentDistribution::from_moments(torch::cat({torch::zeros({1, 4, 2, 2}), torch::full({1, 4, 2, 2}, 100.0)}, 1));
  BOOST_TEST(extreme.logvar.max().item<double>() == 20.0);
  BOOST_TEST(vae->decode(dist.mode()).sizes() == image.sizes());
}

BOOST_AUTO_TEST_CASE(config_errors_name_the_key) {
  json bad = tiny_unet_json();
  bad["class_embed_type"] = "timestep";
  try {
    UNetConfig::from_json(bad, "unet/config.json");
    BOOST_FAIL("expected InputError");
  } catch (const pbench::InputError& e) {
    BOOST_TEST(std::string(e.what()).find("unet/config.json: key 'class_embed_type'") != std::string::npos, e.what());
  }
  json heads = tiny_unet_json();
  heads["attention_head_dim"] = {8, 8, 8};
  BOOST_CHECK_THROW(UNetConfig::from_json(heads, "x"), pbench::InputError);
  json vae = tiny_vae_json({32, 64});
  vae["norm_num_groups"] = 5;
  BOOST_CHECK_THROW(VaeConfig::from_json(vae, "x"), pbench::InputError);
}
