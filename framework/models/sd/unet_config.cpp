#include "framework/models/sd/unet_config.hpp"

#include <fstream>

#include "framework/util/errors.hpp"

namespace pbench::models {

using nlohmann::json;

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the config file (expected a diffusers config.json)");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(path + ": not valid JSON (" + e.what() + ")");
  }
}

namespace {

struct Reader {
  const json& config;
  const std::string& source;

  [[noreturn]] void fail(const std::string& key, const std::string& expected) const {
    throw InputError(source + ": key '" + key + "': expected " + expected);
  }
  bool has(const std::string& key) const { return config.contains(key) && !config.at(key).is_null(); }

  int64_t integer(const std::string& key, int64_t fallback) const {
    if (!has(key)) return fallback;
    const json& v = config.at(key);
    if (!v.is_number_integer()) fail(key, "an integer");
    return v.get<int64_t>();
  }
  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = config.at(key);
    if (!v.is_number()) fail(key, "a number");
    return v.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = config.at(key);
    if (!v.is_boolean()) fail(key, "true or false");
    return v.get<bool>();
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = config.at(key);
    if (!v.is_string()) fail(key, "a string");
    return v.get<std::string>();
  }
  std::vector<std::string> texts(const std::string& key) const {
    if (!has(key) || !config.at(key).is_array() || config.at(key).empty()) fail(key, "a non-empty list of block type names");
    std::vector<std::string> out;
    for (const json& v : config.at(key)) {
      if (!v.is_string()) fail(key, "a list of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  std::vector<int64_t> positive_ints(const std::string& key) const {
    if (!has(key) || !config.at(key).is_array() || config.at(key).empty()) fail(key, "a non-empty list of positive integers");
    std::vector<int64_t> out;
    for (const json& v : config.at(key)) {
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) fail(key, "a list of positive integers");
      out.push_back(v.get<int64_t>());
    }
    return out;
  }
  // An int (repeated per block) or a list with one entry per block.
  std::vector<int64_t> per_block(const std::string& key, size_t blocks, int64_t fallback) const {
    if (!has(key)) return std::vector<int64_t>(blocks, fallback);
    const json& v = config.at(key);
    if (v.is_number_integer() && v.get<int64_t>() > 0) return std::vector<int64_t>(blocks, v.get<int64_t>());
    if (v.is_array() && v.size() == blocks) {
      std::vector<int64_t> out;
      for (const json& e : v) {
        if (!e.is_number_integer() || e.get<int64_t>() <= 0) fail(key, "positive integers");
        out.push_back(e.get<int64_t>());
      }
      return out;
    }
    fail(key, "a positive integer or a list of " + std::to_string(blocks) + " (one per down block)");
  }
  void require_null_or(const std::string& key, const json& allowed) const {
    if (has(key) && config.at(key) != allowed)
      fail(key, allowed.is_null() ? std::string("null (this feature is not implemented)")
                                  : allowed.dump() + " (other values are not implemented)");
  }
};

}  // namespace

UNetConfig UNetConfig::from_json(const json& config, const std::string& source) {
  if (!config.is_object()) throw InputError(source + ": expected a JSON object (a diffusers UNet config.json)");
  Reader r{config, source};
  if (r.has("_class_name") && r.text("_class_name", "") != "UNet2DConditionModel")
    r.fail("_class_name", "\"UNet2DConditionModel\"");
  // Features outside SD 1.x/2.x UNets: refuse rather than silently drop them.
  for (const char* key : {"addition_embed_type", "class_embed_type", "num_class_embeds", "encoder_hid_dim",
                          "encoder_hid_dim_type", "time_cond_proj_dim", "time_embedding_act_fn", "timestep_post_act",
                          "cross_attention_norm", "projection_class_embeddings_input_dim",
                          "reverse_transformer_layers_per_block", "addition_time_embed_dim"})
    r.require_null_or(key, nullptr);
  r.require_null_or("act_fn", "silu");
  r.require_null_or("time_embedding_type", "positional");
  r.require_null_or("resnet_time_scale_shift", "default");
  r.require_null_or("attention_type", "default");
  r.require_null_or("dual_cross_attention", false);
  r.require_null_or("resnet_skip_time_act", false);
  r.require_null_or("class_embeddings_concat", false);

  UNetConfig c;
  c.in_channels = r.integer("in_channels", 4);
  c.out_channels = r.integer("out_channels", 4);
  c.center_input_sample = r.boolean("center_input_sample", false);
  c.flip_sin_to_cos = r.boolean("flip_sin_to_cos", true);
  c.freq_shift = r.number("freq_shift", 0);
  c.down_block_types = r.texts("down_block_types");
  c.up_block_types = r.texts("up_block_types");
  c.block_out_channels = r.positive_ints("block_out_channels");
  const size_t n = c.block_out_channels.size();
  if (c.down_block_types.size() != n) r.fail("down_block_types", "one entry per block_out_channels entry");
  if (c.up_block_types.size() != n) r.fail("up_block_types", "one entry per block_out_channels entry");
  for (const auto& t : c.down_block_types)
    if (t != "CrossAttnDownBlock2D" && t != "DownBlock2D") r.fail("down_block_types", "CrossAttnDownBlock2D or DownBlock2D, got " + t);
  for (const auto& t : c.up_block_types)
    if (t != "CrossAttnUpBlock2D" && t != "UpBlock2D") r.fail("up_block_types", "CrossAttnUpBlock2D or UpBlock2D, got " + t);
  if (r.has("mid_block_type")) {
    c.mid_block_type = r.text("mid_block_type", "");
    if (c.mid_block_type != "UNetMidBlock2DCrossAttn") r.fail("mid_block_type", "UNetMidBlock2DCrossAttn or null");
  } else if (config.contains("mid_block_type")) {
    c.mid_block_type.clear();  // explicit null: diffusers builds no mid block
  }
  c.layers_per_block = r.per_block("layers_per_block", n, 2);
  c.transformer_layers_per_block = r.per_block("transformer_layers_per_block", n, 1);
  c.downsample_padding = r.integer("downsample_padding", 1);
  c.mid_block_scale_factor = r.number("mid_block_scale_factor", 1.0);
  c.resnet_out_scale_factor = r.number("resnet_out_scale_factor", 1.0);
  c.norm_num_groups = r.integer("norm_num_groups", 32);
  c.norm_eps = r.number("norm_eps", 1e-5);
  c.cross_attention_dim = r.per_block("cross_attention_dim", n, 1280);
  // diffusers quirk: num_attention_heads = num_attention_heads or attention_head_dim.
  const char* heads_key = r.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
  c.num_attention_heads = r.per_block(heads_key, n, 8);
  if (r.has("only_cross_attention") && config.at("only_cross_attention").is_array()) {
    for (const json& v : config.at("only_cross_attention")) {
      if (!v.is_boolean()) r.fail("only_cross_attention", "true/false or a list of them");
      c.only_cross_attention.push_back(v.get<bool>());
    }
    if (c.only_cross_attention.size() != n) r.fail("only_cross_attention", "one entry per down block");
  } else {
    c.only_cross_attention.assign(n, r.boolean("only_cross_attention", false));
  }
  c.use_linear_projection = r.boolean("use_linear_projection", false);
  c.time_embedding_dim = r.integer("time_embedding_dim", 4 * c.block_out_channels[0]);
  c.conv_in_kernel = r.integer("conv_in_kernel", 3);
  c.conv_out_kernel = r.integer("conv_out_kernel", 3);
  c.sample_size = r.integer("sample_size", 64);
  if (c.sample_size <= 0) r.fail("sample_size", "a positive integer");
  if (c.conv_in_kernel % 2 == 0) r.fail("conv_in_kernel", "an odd kernel size");
  if (c.conv_out_kernel % 2 == 0) r.fail("conv_out_kernel", "an odd kernel size");
  for (size_t i = 0; i < n; ++i) {
    const int64_t ch = c.block_out_channels[i];
    if (ch % c.norm_num_groups != 0) r.fail("norm_num_groups", "a divisor of every block_out_channels entry");
    if (ch % c.num_attention_heads[i] != 0) r.fail(heads_key, "a divisor of block_out_channels[" + std::to_string(i) + "]");
  }
  return c;
}

UNetConfig UNetConfig::from_file(const std::string& path) { return from_json(read_json_file(path), path); }

VaeConfig VaeConfig::from_json(const json& config, const std::string& source) {
  if (!config.is_object()) throw InputError(source + ": expected a JSON object (a diffusers AutoencoderKL config.json)");
  Reader r{config, source};
  if (r.has("_class_name") && r.text("_class_name", "") != "AutoencoderKL") r.fail("_class_name", "\"AutoencoderKL\"");
  r.require_null_or("act_fn", "silu");
  r.require_null_or("latents_mean", nullptr);
  r.require_null_or("use_quant_conv", true);
  r.require_null_or("use_post_quant_conv", true);
  r.require_null_or("mid_block_add_attention", true);
  VaeConfig c;
  c.in_channels = r.integer("in_channels", 3);
  c.out_channels = r.integer("out_channels", 3);
  c.latent_channels = r.integer("latent_channels", 4);
  c.block_out_channels = r.has("block_out_channels") ? r.positive_ints("block_out_channels") : std::vector<int64_t>{64};
  c.layers_per_block = r.integer("layers_per_block", 1);
  c.norm_num_groups = r.integer("norm_num_groups", 32);
  c.scaling_factor = r.number("scaling_factor", 0.18215);
  const size_t n = c.block_out_channels.size();
  if (r.has("down_block_types")) {
    auto types = r.texts("down_block_types");
    if (types.size() != n) r.fail("down_block_types", "one entry per block_out_channels entry");
    for (const auto& t : types)
      if (t != "DownEncoderBlock2D") r.fail("down_block_types", "DownEncoderBlock2D, got " + t);
  }
  if (r.has("up_block_types")) {
    auto types = r.texts("up_block_types");
    if (types.size() != n) r.fail("up_block_types", "one entry per block_out_channels entry");
    for (const auto& t : types)
      if (t != "UpDecoderBlock2D") r.fail("up_block_types", "UpDecoderBlock2D, got " + t);
  }
  for (int64_t ch : c.block_out_channels)
    if (ch % c.norm_num_groups != 0) r.fail("norm_num_groups", "a divisor of every block_out_channels entry");
  return c;
}

VaeConfig VaeConfig::from_file(const std::string& path) { return from_json(read_json_file(path), path); }

}  // namespace pbench::models
