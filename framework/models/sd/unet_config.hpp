#pragma once
// UNet2DConditionModel config.json (diffusers v0.25.1) reduced to what the
// supported architecture needs, with diffusers' defaults for absent keys (the
// SD v1.5 file predates most of them). Per-block values are expanded to one
// entry per down block, so the module builder and the parameter counter read
// the same numbers.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pbench::models {

struct UNetConfig {
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  std::vector<std::string> down_block_types;
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";  // "" when config says null
  std::vector<std::string> up_block_types;
  std::vector<int64_t> block_out_channels;
  std::vector<int64_t> layers_per_block;              // per down block
  std::vector<int64_t> transformer_layers_per_block;  // per down block
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  double resnet_out_scale_factor = 1.0;
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  std::vector<int64_t> cross_attention_dim;  // per down block
  std::vector<int64_t> num_attention_heads;  // per down block (diffusers: heads = attention_head_dim when unset)
  std::vector<bool> only_cross_attention;    // per down block
  bool use_linear_projection = false;
  int64_t time_embedding_dim = 0;  // 4 * block_out_channels[0] unless set
  int64_t conv_in_kernel = 3;
  int64_t conv_out_kernel = 3;
  int64_t sample_size = 64;  // latent side the model was trained at (diffusers metadata; SD v1.x: 64)

  // Parses and validates; `source` names the file in InputError messages.
  // Features this implementation lacks (class/addition embeddings, other time
  // embeddings, scale-shift resnets, ...) are rejected by key, never ignored.
  static UNetConfig from_json(const nlohmann::json& config, const std::string& source);
  static UNetConfig from_file(const std::string& path);
};

struct VaeConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t latent_channels = 4;
  std::vector<int64_t> block_out_channels{64};
  int64_t layers_per_block = 1;
  int64_t norm_num_groups = 32;
  double scaling_factor = 0.18215;

  static VaeConfig from_json(const nlohmann::json& config, const std::string& source);
  static VaeConfig from_file(const std::string& path);
};

// Reads a JSON file; InputError naming the file when missing or malformed.
nlohmann::json read_json_file(const std::string& path);

}  // namespace pbench::models
