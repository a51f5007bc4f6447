#pragma once
// Exact parameter counts of UNet2DConditionModel and AutoencoderKL from their
// config.json alone, without allocating weights: the same shape logic as
// unet.cpp / vae.cpp, summed analytically. Tests check these against the
// real modules on small configs and against the SD v1.5 reference counts.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "framework/models/sd/unet_config.hpp"

namespace pbench::models {

// Per top-level module: conv_in, time_embedding, down_blocks, mid_block (when
// present), up_blocks, conv_norm_out, conv_out, and "total".
std::map<std::string, int64_t> count_unet_params(const UNetConfig& config);
std::map<std::string, int64_t> count_unet_params(const nlohmann::json& config, const std::string& source = "unet config");

// The attention projections of every transformer block:
//   modules (number of Attention modules), projection_weights (to_q/to_k/to_v/to_out.0 weights),
//   attn1_projection_weights, attn2_projection_weights, to_out_biases,
//   cross_attn_to_k_to_v_weights (attn2.to_k + attn2.to_v, what Custom Diffusion trains).
std::map<std::string, int64_t> count_unet_attention_params(const UNetConfig& config);

// Per top-level module: encoder, decoder, quant_conv, post_quant_conv, and "total".
std::map<std::string, int64_t> count_vae_params(const VaeConfig& config);
std::map<std::string, int64_t> count_vae_params(const nlohmann::json& config, const std::string& source = "vae config");

}  // namespace pbench::models
