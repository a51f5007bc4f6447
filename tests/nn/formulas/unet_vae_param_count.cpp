#include "tests/nn/formulas/unet_vae_param_count.hpp"

#include <algorithm>

namespace pbench::models {

namespace {

int64_t conv(int64_t in, int64_t out, int64_t k) { return out * in * k * k + out; }
int64_t linear(int64_t in, int64_t out, bool bias = true) { return out * in + (bias ? out : 0); }
int64_t norm(int64_t channels) { return 2 * channels; }

int64_t resnet(int64_t in, int64_t out, int64_t temb) {
  return norm(in) + conv(in, out, 3) + (temb > 0 ? linear(temb, out) : 0) + norm(out) + conv(out, out, 3) +
         (in != out ? conv(in, out, 1) : 0);
}

// Tallies of the Attention modules seen while counting.
struct AttentionTally {
  int64_t modules = 0, attn1_weights = 0, attn2_weights = 0, out_biases = 0, cross_kv_weights = 0;
};

// Attention projections: to_q, to_k, to_v (no bias in the UNet), to_out.0 (bias).
int64_t unet_attention(int64_t dim, int64_t kv_dim, bool is_attn2, AttentionTally& tally) {
  const int64_t weights = 2 * dim * dim + 2 * kv_dim * dim;
  ++tally.modules;
  (is_attn2 ? tally.attn2_weights : tally.attn1_weights) += weights;
  if (is_attn2) tally.cross_kv_weights += 2 * kv_dim * dim;
  tally.out_biases += dim;
  return weights + dim;
}

int64_t transformer(int64_t channels, int64_t context_dim, int64_t layers, bool only_cross, AttentionTally& tally) {
  // inner = heads * (channels / heads) = channels (divisibility is checked by the config).
  const int64_t dim = channels;
  int64_t blocks = 0;
  for (int64_t l = 0; l < layers; ++l) {  // one pass per block so the tally sees every Attention
    blocks += 3 * norm(dim);
    blocks += unet_attention(dim, only_cross ? context_dim : dim, false, tally);
    blocks += unet_attention(dim, context_dim, true, tally);
    blocks += linear(dim, 8 * dim) + linear(4 * dim, dim);  // GEGLU proj, output linear
  }
  // proj_in / proj_out: 1x1 conv or Linear, same count either way.
  return norm(channels) + linear(channels, dim) + blocks + linear(dim, channels);
}

std::map<std::string, int64_t> count_unet(const UNetConfig& c, AttentionTally& tally) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  const int64_t temb = c.time_embedding_dim;
  std::map<std::string, int64_t> out;
  out["conv_in"] = conv(c.in_channels, ch[0], c.conv_in_kernel);
  out["time_embedding"] = linear(ch[0], temb) + linear(temb, temb);

  int64_t down = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = i == 0 ? ch[0] : ch[i - 1];
    const bool cross = c.down_block_types[i] == "CrossAttnDownBlock2D";
    for (int64_t l = 0; l < c.layers_per_block[i]; ++l) {
      down += resnet(l == 0 ? in : ch[i], ch[i], temb);
      if (cross)
        down += transformer(ch[i], c.cross_attention_dim[i], c.transformer_layers_per_block[i],
                            c.only_cross_attention[i], tally);
    }
    if (i + 1 < n) down += conv(ch[i], ch[i], 3);
  }
  out["down_blocks"] = down;

  if (!c.mid_block_type.empty()) {
    out["mid_block"] = 2 * resnet(ch.back(), ch.back(), temb) +
                       transformer(ch.back(), c.cross_attention_dim.back(), c.transformer_layers_per_block.back(),
                                   false, tally);
  }

  int64_t up = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t r = n - 1 - i;
    const int64_t prev = i == 0 ? ch[n - 1] : ch[n - i];
    const int64_t o = ch[r];
    const int64_t in = ch[n - 1 - std::min(i + 1, n - 1)];
    const bool cross = c.up_block_types[i] == "CrossAttnUpBlock2D";
    const int64_t layers = c.layers_per_block[r] + 1;
    for (int64_t l = 0; l < layers; ++l) {
      up += resnet((l == 0 ? prev : o) + (l == layers - 1 ? in : o), o, temb);
      if (cross)
        up += transformer(o, c.cross_attention_dim[r], c.transformer_layers_per_block[r], c.only_cross_attention[r], tally);
    }
    if (i + 1 < n) up += conv(o, o, 3);
  }
  out["up_blocks"] = up;
  out["conv_norm_out"] = norm(ch[0]);
  out["conv_out"] = conv(ch[0], c.out_channels, c.conv_out_kernel);

  int64_t total = 0;
  for (const auto& [name, count] : out) total += count;
  out["total"] = total;
  return out;
}

int64_t vae_mid_block(int64_t ch) {
  // resnet, attention (group_norm + biased q/k/v/out), resnet
  return 2 * resnet(ch, ch, 0) + norm(ch) + 4 * linear(ch, ch);
}

}  // namespace

std::map<std::string, int64_t> count_unet_params(const UNetConfig& config) {
  AttentionTally tally;
  return count_unet(config, tally);
}

std::map<std::string, int64_t> count_unet_params(const nlohmann::json& config, const std::string& source) {
  return count_unet_params(UNetConfig::from_json(config, source));
}

std::map<std::string, int64_t> count_unet_attention_params(const UNetConfig& config) {
  AttentionTally t;
  count_unet(config, t);
  return {{"modules", t.modules},
          {"projection_weights", t.attn1_weights + t.attn2_weights},
          {"attn1_projection_weights", t.attn1_weights},
          {"attn2_projection_weights", t.attn2_weights},
          {"to_out_biases", t.out_biases},
          {"cross_attn_to_k_to_v_weights", t.cross_kv_weights}};
}

std::map<std::string, int64_t> count_vae_params(const VaeConfig& c) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  int64_t encoder = conv(c.in_channels, ch[0], 3);
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = i == 0 ? ch[0] : ch[i - 1];
    for (int64_t l = 0; l < c.layers_per_block; ++l) encoder += resnet(l == 0 ? in : ch[i], ch[i], 0);
    if (i + 1 < n) encoder += conv(ch[i], ch[i], 3);
  }
  encoder += vae_mid_block(ch.back()) + norm(ch.back()) + conv(ch.back(), 2 * c.latent_channels, 3);

  int64_t decoder = conv(c.latent_channels, ch.back(), 3) + vae_mid_block(ch.back());
  for (size_t i = 0; i < n; ++i) {
    const int64_t prev = i == 0 ? ch[n - 1] : ch[n - i];
    const int64_t out = ch[n - 1 - i];
    for (int64_t l = 0; l < c.layers_per_block + 1; ++l) decoder += resnet(l == 0 ? prev : out, out, 0);
    if (i + 1 < n) decoder += conv(out, out, 3);
  }
  decoder += norm(ch[0]) + conv(ch[0], c.out_channels, 3);

  const int64_t l = c.latent_channels;
  std::map<std::string, int64_t> out{{"encoder", encoder},
                                     {"decoder", decoder},
                                     {"quant_conv", conv(2 * l, 2 * l, 1)},
                                     {"post_quant_conv", conv(l, l, 1)}};
  out["total"] = encoder + decoder + out["quant_conv"] + out["post_quant_conv"];
  return out;
}

std::map<std::string, int64_t> count_vae_params(const nlohmann::json& config, const std::string& source) {
  return count_vae_params(VaeConfig::from_json(config, source));
}

}  // namespace pbench::models
