#include "framework/tensor/delta_formats.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "framework/util/version.hpp"

namespace pbench::interop {
namespace {

const std::string kUnet = "unet.", kText = "text_encoder.";
const std::string kKohyaUnet = "lora_unet_", kKohyaText = "lora_te_";


// Module-path parts of the diffusers UNet and the HF CLIP text model that contain
// an underscore themselves: kohya joins every part with '_', so reading a kohya
// key back needs to know which underscores were dots.
const std::set<std::string>& multi_word_parts() {
  static const std::set<std::string> parts = {
      "down_blocks", "up_blocks", "mid_block", "transformer_blocks", "to_q", "to_k", "to_v", "to_out",
      "proj_in", "proj_out", "conv_in", "conv_out", "conv_shortcut", "time_emb_proj", "time_embedding",
      "linear_1", "linear_2", "text_model", "self_attn", "q_proj", "k_proj", "v_proj", "out_proj",
      "final_layer_norm", "layer_norm1", "layer_norm2", "conv_norm_out", "add_embedding"};
  return parts;
}

std::string kohya_name(const std::string& module) {
  std::string out = module;
  for (char& c : out)
    if (c == '.') c = '_';
  return out;
}

// "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q" -> the dotted path:
// longest known multi-word part first, else one word.
std::string dotted_name(const std::string& kohya, const std::string& key) {
  std::vector<std::string> words;
  std::stringstream ss(kohya);
  for (std::string w; std::getline(ss, w, '_');) words.push_back(w);
  std::string out;
  for (size_t i = 0; i < words.size();) {
    size_t take = 1;
    for (size_t n = std::min<size_t>(4, words.size() - i); n > 1; --n) {
      std::string joined = words[i];
      for (size_t j = 1; j < n; ++j) joined += "_" + words[i + j];
      if (multi_word_parts().count(joined)) {
        take = n;
        break;
      }
    }
    std::string part = words[i];
    for (size_t j = 1; j < take; ++j) part += "_" + words[i + j];
    if (part.empty()) throw InputError(key + ": empty module name part (double '_')");
    out += (out.empty() ? "" : ".") + part;
    i += take;
  }
  return out;
}

// UNet modules that are Conv2d in diffusers: their LoRA down is a conv kernel
// in kohya's layout ([r, in, kh, kw]), which the [r, in*kh*kw] matrix view
// pbench stores cannot be reshaped without the kernel size.
bool is_unet_conv(const std::string& module) {
  for (const char* tail : {"conv1", "conv2", "conv_shortcut", "conv_in", "conv_out", "proj_in", "proj_out", ".conv"})
    if (ends_with(module, tail)) return true;
  return false;
}

// A UNet conv's kernel {kh, kw} (kohya keeps conv LoRA factors as kernels); {} for a linear. The
// base model's UNet says which layers are convs when known; without it a layer whose name says conv
// is refused, since pbench's [r, in·kh·kw] matrix view does not say kh and kw.
std::vector<int64_t> conv_kernel(const DeltaInfo& info, const std::string& module, const std::string& key) {
  if (!info.conv_kernels.empty()) {
    auto it = info.conv_kernels.find(kUnet + module);
    return it == info.conv_kernels.end() ? std::vector<int64_t>{} : it->second;
  }
  if (is_unet_conv(module))
    throw InputError(info.method + " delta: " + key + ": a conv layer; its kohya form is a kernel [rows, in, kh, kw] "
                     "whose size comes from the base model: export from the run file, or pass --base-model");
  return {};
}

// A conv factor's matrix view [rows, in·kh·kw] as the kernel [rows, in, kh, kw] (the same memory order).
torch::Tensor as_kernel(const torch::Tensor& t, const std::vector<int64_t>& kernel, const std::string& key,
                        const std::string& method) {
  const int64_t area = kernel[0] * kernel[1];
  if (t.dim() != 2 || t.size(1) % area != 0)
    throw InputError(method + " delta: " + key + ": width " + std::to_string(t.size(-1)) + " is not in·" +
                     std::to_string(kernel[0]) + "·" + std::to_string(kernel[1]) + " (the base model's kernel)");
  return t.reshape({t.size(0), t.size(1) / area, kernel[0], kernel[1]});
}

void split_lora_key(const std::string& key, std::string& prefix, std::string& module, std::string& half) {
  for (const auto& p : {kUnet, kText})
    if (starts_with(key, p)) prefix = p;
  for (const char* h : {".lora.down", ".lora.up"})
    if (ends_with(key, h)) half = h;
  if (prefix.empty() || half.empty())
    throw InputError("lora delta: key '" + key + "' is not unet.<module>.lora.{down,up} or text_encoder.<module>.lora.*");
  module = key.substr(prefix.size(), key.size() - prefix.size() - half.size());
}

int64_t lora_rank(const TensorMap& delta, const std::string& source) {
  int64_t rank = 0;
  for (const auto& [key, t] : delta) {
    if (t.dim() != 2) throw InputError(source + ": " + key + ": expected a 2-D LoRA factor, got " + std::to_string(t.dim()) + "-D");
    bool down = ends_with(key, "down") || ends_with(key, "lora_A.weight") || ends_with(key, "lora_down.weight");
    int64_t r = down ? t.size(0) : t.size(1);
    if (rank && r != rank)
      throw InputError(source + ": " + key + ": rank " + std::to_string(r) + ", other layers have rank " + std::to_string(rank));
    rank = r;
  }
  return rank;
}

// A layer's `.alpha`: one finite number > 0 (issue 41: a [3]-shaped alpha printed LibTorch's stack,
// a NaN one was written as is).
double alpha_of(const torch::Tensor& t, const std::string& where) {
  if (t.numel() != 1)
    throw InputError(where + ": expected one number, got a tensor of " + std::to_string(t.numel()) + " values");
  const double a = t.to(torch::kDouble).item<double>();
  if (!std::isfinite(a) || a <= 0) throw InputError(where + ": expected a finite alpha > 0, got " + std::to_string(a));
  return a;
}
// `lora_alpha` of a file's metadata: a number > 0.
double alpha_of(const std::string& text, const std::string& where) {
  char* end = nullptr;
  const double a = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(a) || a <= 0)
    throw InputError(where + ": expected a finite alpha > 0, got '" + text + "'");
  return a;
}
// Rank 0 factors make an empty update that every tool divides by (alpha / r).
int64_t checked_rank(int64_t rank, const std::string& source) {
  if (rank < 1) throw InputError(source + ": rank " + std::to_string(rank) + "; a low-rank delta has rank >= 1");
  return rank;
}

std::map<std::string, std::string> common_metadata(const DeltaInfo& info, const std::string& format) {
  return {{"pbench_method", info.method}, {"pbench_base_model", info.base_model}, {"pbench_run_id", info.run_id},
          {"pbench_version", pbench_version()}, {"format", format}};
}

DeltaFile export_lora(const TensorMap& delta, const DeltaInfo& info, const std::string& format) {
  DeltaFile out;
  int64_t rank = lora_rank(delta, "lora delta");
  out.metadata = common_metadata(info, format);
  out.metadata["rank"] = std::to_string(rank);
  out.metadata["alpha"] = std::to_string(info.alpha);
  if (format == "diffusers" || format == "peft") {
    out.metadata["r"] = std::to_string(rank);
    out.metadata["lora_alpha"] = std::to_string(info.alpha);
    for (const auto& [key, t] : delta) {
      std::string prefix, module, half;
      split_lora_key(key, prefix, module, half);
      out.tensors[prefix + module + (half == ".lora.down" ? ".lora_A.weight" : ".lora_B.weight")] = t;
    }
    return out;
  }
  // kohya (A1111, ComfyUI)
  out.metadata["ss_network_module"] = "networks.lora";
  out.metadata["ss_network_dim"] = std::to_string(rank);
  out.metadata["ss_network_alpha"] = std::to_string(info.alpha);
  for (const auto& [key, t] : delta) {
    std::string prefix, module, half;
    split_lora_key(key, prefix, module, half);
    std::string name = (prefix == kUnet ? kKohyaUnet : kKohyaText) + kohya_name(module);
    torch::Tensor factor = t;
    if (prefix == kUnet) {
      const std::vector<int64_t> kernel = conv_kernel(info, module, key);
      if (!kernel.empty() && half == ".lora.down") {
        factor = as_kernel(t, kernel, key, "lora");
      } else if (!kernel.empty()) {
        factor = t.reshape({t.size(0), t.size(1), 1, 1});  // a 1x1 conv after the kernel
      }
    }
    out.tensors[name + (half == ".lora.down" ? ".lora_down.weight" : ".lora_up.weight")] = factor;
    out.tensors[name + ".alpha"] = torch::tensor(float(info.alpha));
  }
  return out;
}

TensorMap import_lora(const DeltaFile& file, const std::string& format, DeltaInfo& info, const std::string& source) {
  TensorMap delta;
  TensorMap factors;
  std::set<double> alphas;
  for (const auto& [key, t] : file.tensors) {
    std::string prefix, module, half;
    if (format == "diffusers" || format == "peft") {
      for (const auto& p : {kUnet, kText})
        if (starts_with(key, p)) prefix = p;
      for (const char* h : {".lora_A.weight", ".lora_B.weight"})
        if (ends_with(key, h)) half = h;
      if (prefix.empty() || half.empty())
        throw InputError(source + ": key '" + key + "' is not unet.<module>.lora_{A,B}.weight or text_encoder.<module>.lora_{A,B}.weight");
      module = key.substr(prefix.size(), key.size() - prefix.size() - half.size());
      delta[prefix + module + (half == ".lora_A.weight" ? ".lora.down" : ".lora.up")] = t;
      factors[key] = t;
      continue;
    }
    for (const auto& [p, ours] : {std::pair{kKohyaUnet, kUnet}, {kKohyaText, kText}})
      if (starts_with(key, p)) {
        prefix = ours;
        module = key.substr(p.size());
      }
    for (const char* h : {".lora_down.weight", ".lora_up.weight", ".alpha"})
      if (ends_with(module, h)) half = h;
    if (prefix.empty() || half.empty())
      throw InputError(source + ": key '" + key + "' is not lora_unet_<module>.{lora_down.weight,lora_up.weight,alpha} "
                       "or lora_te_<module>.* (LoHa/LoKr keys are not read yet)");
    module = dotted_name(module.substr(0, module.size() - std::string(half).size()), source + ": " + key);
    if (std::string(half) == ".alpha") {
      alphas.insert(alpha_of(t, source + ": " + key));
      continue;
    }
    // A conv's kernel factors ([r, in, kh, kw] down, [out, r, 1, 1] up) in pbench's matrix view.
    const torch::Tensor factor = t.dim() == 4 ? t.reshape({t.size(0), -1}) : t;
    delta[prefix + module + (std::string(half) == ".lora_down.weight" ? ".lora.down" : ".lora.up")] = factor;
    factors[key] = factor;
  }
  if (delta.empty()) throw InputError(source + ": no LoRA tensors");
  for (const auto& [key, t] : delta) {
    std::string other = ends_with(key, ".down") ? key.substr(0, key.size() - 4) + "up" : key.substr(0, key.size() - 2) + "down";
    if (!delta.count(other)) throw InputError(source + ": " + key + " has no matching " + other);
  }
  info.rank = checked_rank(lora_rank(factors, source), source);
  if (format == "kohya" || format == "a1111") {
    if (alphas.size() > 1) throw InputError(source + ": layers with different .alpha values are not supported");
    info.alpha = alphas.empty() ? double(info.rank) : *alphas.begin();  // kohya: no .alpha means alpha = r
  } else {
    auto it = file.metadata.find("lora_alpha");
    info.alpha = it != file.metadata.end() ? alpha_of(it->second, source + ": metadata lora_alpha")
                                           : double(info.rank);  // diffusers: alpha = r
  }
  return delta;
}

// ---- LyCORIS (LoHa, LoKr) in kohya-style keys -------------------------------------

struct FactorName {
  const char* ours;    // unet.<module>.<tag>.<ours>
  const char* theirs;  // lora_unet_<module>.<theirs>
};
// LoHa: LyCORIS' hada_w1_a/_b is the first pair (w1_a [out, r] · w1_b [r, in·kh·kw], convs flattened
// as pbench stores them), hada_w2_* the second.
const std::vector<FactorName> kLohaFactors = {
    {"up1", "hada_w1_a"}, {"down1", "hada_w1_b"}, {"up2", "hada_w2_a"}, {"down2", "hada_w2_b"}};
// LoKr: ΔW = W1 ⊗ W2; W2 full (lokr_w2) or low rank (lokr_w2_a [c, r] · lokr_w2_b [r, d·kh·kw]).
const std::vector<FactorName> kLokrFactors = {
    {"w1", "lokr_w1"}, {"w2", "lokr_w2"}, {"w2_up", "lokr_w2_a"}, {"w2_down", "lokr_w2_b"}};

const std::vector<FactorName>& lycoris_factors(const std::string& method) {
  return method == "loha" ? kLohaFactors : kLokrFactors;
}

// The low-rank factor that carries r: LoHa's down1 [r, ·], LoKr's w2_down [r, ·].
const char* rank_factor(const std::string& method) { return method == "loha" ? "down1" : "w2_down"; }

DeltaFile export_lycoris(const TensorMap& delta, const DeltaInfo& info, const std::string& format) {
  const std::string& tag = info.method;
  const std::string infix = "." + tag + ".";
  DeltaFile out;
  out.metadata = common_metadata(info, format);
  std::set<std::string> modules;
  int64_t rank = 0;
  for (const auto& [key, t] : delta) {
    std::string prefix;
    for (const auto& p : {kUnet, kText})
      if (starts_with(key, p)) prefix = p;
    size_t at = key.rfind(infix);
    if (prefix.empty() || at == std::string::npos || at < prefix.size())
      throw InputError(tag + " delta: key '" + key + "' is not unet.<module>." + tag + ".<factor>");
    const std::string module = key.substr(prefix.size(), at - prefix.size()), factor = key.substr(at + infix.size());
    const char* theirs = nullptr;
    for (const auto& f : lycoris_factors(tag))
      if (factor == f.ours) theirs = f.theirs;
    if (!theirs) throw InputError(tag + " delta: key '" + key + "': unknown factor '" + factor + "'");
    torch::Tensor stored = t;
    if (tag == "lokr" && factor == "w2" && prefix == kUnet) {  // a conv's full W2 is a kernel [c, d, kh, kw] in LyCORIS
      const std::vector<int64_t> kernel = conv_kernel(info, module, key);
      if (!kernel.empty()) stored = as_kernel(t, kernel, key, tag);
    }
    if (factor == rank_factor(tag)) {
      if (rank && t.size(0) != rank)
        throw InputError(tag + " delta: " + key + ": rank " + std::to_string(t.size(0)) + ", other layers have " +
                         std::to_string(rank));
      rank = t.size(0);
    }
    const std::string name = (prefix == kUnet ? kKohyaUnet : kKohyaText) + kohya_name(module);
    out.tensors[name + "." + theirs] = stored;
    modules.insert(name);
  }
  for (const auto& name : modules) out.tensors[name + ".alpha"] = torch::tensor(float(info.alpha));
  out.metadata["rank"] = std::to_string(rank);
  out.metadata["alpha"] = std::to_string(info.alpha);
  out.metadata["ss_network_module"] = "lycoris.kohya";
  out.metadata["ss_network_args"] = std::string("{\"algo\": \"") + tag + "\"}";
  out.metadata["ss_network_dim"] = std::to_string(rank);
  out.metadata["ss_network_alpha"] = std::to_string(info.alpha);
  return out;
}

TensorMap import_lycoris(const DeltaFile& file, const std::string& method, DeltaInfo& info, const std::string& source) {
  TensorMap delta;
  std::map<std::string, std::set<std::string>> factors_of;  // our module key prefix -> factors found
  std::set<double> alphas;
  int64_t rank = 0;
  for (const auto& [key, t] : file.tensors) {
    std::string prefix, rest;
    for (const auto& [p, ours] : {std::pair{kKohyaUnet, kUnet}, {kKohyaText, kText}})
      if (starts_with(key, p)) {
        prefix = ours;
        rest = key.substr(p.size());
      }
    size_t dot = rest.rfind('.');
    if (prefix.empty() || dot == std::string::npos)
      throw InputError(source + ": key '" + key + "' is not lora_unet_<module>.<factor> or lora_te_<module>.<factor>");
    const std::string theirs = rest.substr(dot + 1);
    const std::string module = dotted_name(rest.substr(0, dot), source + ": " + key);
    if (theirs == "alpha") {
      alphas.insert(alpha_of(t, source + ": " + key));
      continue;
    }
    const char* ours = nullptr;
    for (const auto& f : lycoris_factors(method))
      if (theirs == f.theirs) ours = f.ours;
    if (!ours) {
      std::string names;
      for (const auto& f : lycoris_factors(method)) names += (names.empty() ? "" : ", ") + std::string(f.theirs);
      throw InputError(source + ": key '" + key + "': not a " + method + " factor (" + names + ", alpha)");
    }
    // LoKr's full W2 of a conv comes as its kernel [c, d, kh, kw]: pbench's matrix view is [c, d·kh·kw].
    const torch::Tensor factor = method == "lokr" && std::string(ours) == "w2" && t.dim() == 4 ? t.reshape({t.size(0), -1}) : t;
    if (factor.dim() != 2) throw InputError(source + ": " + key + ": expected a 2-D factor, got " + std::to_string(t.dim()) + "-D");
    if (std::string(ours) == rank_factor(method)) {
      if (rank && t.size(0) != rank)
        throw InputError(source + ": " + key + ": rank " + std::to_string(t.size(0)) + ", other layers have rank " +
                         std::to_string(rank));
      rank = t.size(0);
    }
    const std::string ours_prefix = prefix + module + "." + method + ".";
    delta[ours_prefix + ours] = factor;
    factors_of[ours_prefix].insert(ours);
  }
  if (delta.empty()) throw InputError(source + ": no " + method + " tensors");
  for (const auto& [at, found] : factors_of) {
    const bool full_w2 = found.count("w2") > 0, low_rank_w2 = found.count("w2_up") && found.count("w2_down");
    const bool complete = method == "loha" ? found.size() == 4
                                           : found.count("w1") && full_w2 != low_rank_w2 && found.size() == (full_w2 ? 2u : 3u);
    if (!complete) throw InputError(source + ": " + at + "*: incomplete " + method + " factors for this layer");
  }
  if (alphas.size() > 1) throw InputError(source + ": layers with different .alpha values are not supported");
  info.rank = method == "lokr" && rank == 0 ? 0 : checked_rank(rank, source);  // a full-W2 LoKr has no rank
  info.alpha = alphas.empty() ? double(rank) : *alphas.begin();  // LyCORIS: no .alpha means alpha = dim
  return delta;
}

DeltaFile export_embedding(const TensorMap& delta, const DeltaInfo& info, const std::string& format) {
  if (delta.size() != 1)
    throw InputError("textual_inversion delta: expected one token, got " + std::to_string(delta.size()));
  DeltaFile out;
  out.metadata = common_metadata(info, format);
  const auto& [token, rows] = *delta.begin();
  if (format == "diffusers") {
    out.tensors[token] = rows;
  } else {  // a1111
    out.tensors["emb_params"] = rows;
    out.metadata["name"] = token;
  }
  return out;
}

TensorMap import_embedding(const DeltaFile& file, const std::string& format, DeltaInfo& info, const std::string& source) {
  if (file.tensors.size() != 1)
    throw InputError(source + ": expected one embedding tensor, found " + std::to_string(file.tensors.size()));
  const auto& [key, rows] = *file.tensors.begin();
  torch::Tensor t = rows.dim() == 1 ? rows.unsqueeze(0) : rows;
  if (t.dim() != 2) throw InputError(source + ": " + key + ": expected [n, dim] or [dim]");
  std::string token = key;
  if (format == "a1111") {
    if (key != "emb_params") throw InputError(source + ": key '" + key + "': an A1111 embedding holds 'emb_params'");
    auto it = file.metadata.find("name");
    if (it == file.metadata.end() || it->second.empty())
      throw InputError(source + ": no metadata 'name' (the token); A1111 names it after the file");
    token = it->second;
  }
  return TensorMap{{token, t}};
}

// Custom Diffusion: pbench's projection names and diffusers' CustomDiffusionAttnProcessor's.
const std::vector<std::pair<std::string, std::string>>& custom_diffusion_projections() {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {".to_q.", ".processor.to_q_custom_diffusion."},
      {".to_k.", ".processor.to_k_custom_diffusion."},
      {".to_v.", ".processor.to_v_custom_diffusion."},
      {".to_out.0.", ".processor.to_out_custom_diffusion.0."}};
  return names;
}
const std::string kCustomDiffusionTokens = "text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens";

DeltaFile export_custom_diffusion(const TensorMap& delta, const DeltaInfo& info) {
  DeltaFile out;
  out.metadata = common_metadata(info, "diffusers");
  for (const auto& [key, t] : delta) {
    if (key == kCustomDiffusionTokens) {
      if (t.dim() != 2) throw InputError("custom_diffusion delta: " + key + ": expected [tokens, dim]");
      if (!info.tokens.empty() && int64_t(info.tokens.size()) != t.size(0))
        throw InputError("custom_diffusion delta: " + std::to_string(t.size(0)) + " token rows for " +
                         std::to_string(info.tokens.size()) + " modifier tokens");
      std::vector<std::string> tokens;
      for (int64_t k = 0; k < t.size(0); ++k) {
        tokens.push_back(info.tokens.empty() ? "<new" + std::to_string(k + 1) + ">" : info.tokens[size_t(k)]);
        out.companions.emplace_back(tokens.back() + ".safetensors", TensorMap{{tokens.back(), t[k]}});
      }
      out.metadata["modifier_token"] = join(tokens, "+");
      continue;
    }
    std::string name;
    for (const auto& [ours, theirs] : custom_diffusion_projections()) {
      const size_t at = key.find(".attn2" + ours);
      if (starts_with(key, kUnet) && at != std::string::npos)
        name = key.substr(kUnet.size(), at + 6 - kUnet.size()) + theirs + key.substr(at + 6 + ours.size());
    }
    if (name.empty()) throw InputError("custom_diffusion delta: " + key + ": not a cross-attention projection");
    out.tensors[name] = t;
  }
  if (out.companions.empty()) throw InputError("custom_diffusion delta: no modifier token rows (" + kCustomDiffusionTokens + ")");
  return out;
}

TensorMap import_custom_diffusion(const DeltaFile& file, DeltaInfo& info, const std::string& source) {
  TensorMap delta;
  for (const auto& [key, t] : file.tensors) {
    std::string name;
    for (const auto& [ours, theirs] : custom_diffusion_projections()) {
      const size_t at = key.find(".attn2" + theirs);
      if (at != std::string::npos && key.find('.', at + 6 + theirs.size()) == std::string::npos)
        name = kUnet + key.substr(0, at + 6) + ours + key.substr(at + 6 + theirs.size());
    }
    if (name.empty())
      throw InputError(source + ": key '" + key + "': not a Custom Diffusion processor weight "
                       "(<attn2 module>.processor.to_{q,k,v}_custom_diffusion.weight, to_out_custom_diffusion.0.*)");
    delta[name] = t;
  }
  if (file.companions.empty())
    throw InputError(source + ": a Custom Diffusion delta needs its modifier token embedding: pass --embedding "
                     "<token>.safetensors (diffusers writes it beside the weights)");
  std::vector<torch::Tensor> rows;
  info.tokens.clear();
  for (const auto& [name, tensors] : file.companions) {
    if (tensors.size() != 1)
      throw InputError(name + ": expected one token embedding {<token>: [dim]}, found " + std::to_string(tensors.size()) +
                       " tensors");
    const auto& [token, row] = *tensors.begin();
    if (row.dim() != 1 && !(row.dim() == 2 && row.size(0) == 1))
      throw InputError(name + ": " + token + ": expected [dim] or [1, dim]");
    rows.push_back(row.reshape({-1}));
    info.tokens.push_back(token);
  }
  delta[kCustomDiffusionTokens] = torch::stack(rows);
  return delta;
}

// ---- P+ in kohya's XTI layout --------------------------------------------------------

// Each cross-attention layer's LDM block name ("IN01" … "MID" … "OUT11" on SD v1): input block 0
// is conv_in, down block b holds layers_per_block[b] layers and then its downsampler (every block
// but the last), and output blocks hold layers_per_block + 1 layers each, in up order.
std::vector<std::string> xti_layer_names(const DeltaInfo& info) {
  if (info.cross_attention_layers.empty())
    throw InputError("p_plus delta: kohya names its rows after the base model's UNet blocks (IN01 … OUT11): export "
                     "from the run file, or pass --base-model");
  const std::vector<int64_t>& per_block = info.layers_per_block;
  const int64_t blocks = int64_t(per_block.size());
  auto block_name = [](const char* group, int64_t index) {
    char text[16];
    std::snprintf(text, sizeof text, "%s%02lld", group, static_cast<long long>(index));
    return std::string(text);
  };
  std::vector<std::string> names;
  for (const std::string& layer : info.cross_attention_layers) {
    const std::vector<std::string> parts = split_nonempty(layer, '.');
    auto number = [&](size_t at) { return at < parts.size() ? std::atoll(parts[at].c_str()) : -1; };
    const size_t block_at = parts.front() == "mid_block" ? 0 : 1;  // "down_blocks.B.attentions.J.transformer_blocks.K.attn2"
    if (number(block_at + 4) != 0)
      throw InputError("p_plus delta: " + layer + ": several transformer blocks per attention; kohya's XTI layout has "
                       "one row per UNet block");
    const int64_t block = number(block_at), within = number(block_at + 2);
    const bool down = parts.front() == "down_blocks";
    int64_t before = 0;  // layers of the blocks before this one (down: with their downsamplers)
    for (int64_t b = 0; b < block; ++b) before += per_block.at(size_t(down ? b : blocks - 1 - b)) + 1;
    if (parts.front() == "mid_block") names.push_back("MID");
    else names.push_back(down ? block_name("IN", 1 + before + within) : block_name("OUT", before + within));
  }
  return names;
}

DeltaFile export_p_plus(const TensorMap& delta, const DeltaInfo& info) {
  if (delta.size() != 1) throw InputError("p_plus delta: expected one tensor {<placeholder>: [L, d]}, found " + std::to_string(delta.size()));
  const auto& [token, rows] = *delta.begin();
  const std::vector<std::string> names = xti_layer_names(info);
  if (rows.dim() != 2 || rows.size(0) != int64_t(names.size()))
    throw InputError("p_plus delta: " + token + ": expected [" + std::to_string(names.size()) +
                     ", d], one row per cross-attention layer of the base model");
  DeltaFile out;
  out.metadata = common_metadata(info, "kohya");
  out.metadata["placeholder"] = token;
  for (size_t l = 0; l < names.size(); ++l) out.tensors[names[l]] = rows[int64_t(l)].unsqueeze(0);
  return out;
}

// XTI keys in forward order (IN ascending, MID, OUT ascending) with the token from metadata
// `placeholder`, else the file's name, as kohya's loader takes it.
TensorMap import_p_plus(const DeltaFile& file, const std::string& source) {
  std::vector<std::pair<std::pair<int, long long>, std::string>> order;
  for (const auto& [key, t] : file.tensors) {
    int group = -1;
    long long index = 0;
    if (key == "MID") {
      group = 1;
    } else {
      for (const auto& [prefix, g] : {std::pair<std::string, int>{"IN", 0}, {"OUT", 2}})
        if (starts_with(key, prefix) && key.size() == prefix.size() + 2 &&
            std::isdigit(static_cast<unsigned char>(key[prefix.size()])) && std::isdigit(static_cast<unsigned char>(key.back()))) {
          group = g;
          index = std::atoll(key.c_str() + prefix.size());
        }
    }
    if (group < 0) throw InputError(source + ": key '" + key + "': not a kohya XTI layer (INnn, MID, OUTnn)");
    if (!((t.dim() == 2 && t.size(0) == 1) || t.dim() == 1))
      throw InputError(source + ": " + key + ": expected [1, d] (pbench's P+ has one vector per layer)");
    order.push_back({{group, index}, key});
  }
  if (order.empty()) throw InputError(source + ": no XTI layers");
  std::sort(order.begin(), order.end());
  std::vector<torch::Tensor> rows;
  for (const auto& [rank, key] : order) rows.push_back(file.tensors.at(key).reshape({1, -1}));
  auto it = file.metadata.find("placeholder");
  const std::string token = it != file.metadata.end() && !it->second.empty()
                                ? it->second
                                : std::filesystem::path(source).stem().string();
  return TensorMap{{token, torch::cat(rows)}};
}

}  // namespace

bool has_alpha(const std::string& method) { return method == "lora" || method == "loha" || method == "lokr"; }

bool needs_base_unet(const std::string& method, const std::string& format) {
  return method == "p_plus" || method == "lokr" || (method == "lora" && (format == "kohya" || format == "a1111"));
}

std::vector<std::string> formats_for(const std::string& method) {
  if (method == "lora") return {"diffusers", "peft", "kohya", "a1111"};
  if (method == "textual_inversion" || method == "coti") return {"diffusers", "a1111"};  // COTI learns TI's tokens
  if (method == "loha" || method == "lokr") return {"kohya", "a1111"};
  if (method == "custom_diffusion") return {"diffusers"};
  if (method == "p_plus") return {"kohya"};
  return {};
}

namespace {
void check_format(const std::string& method, const std::string& format) {
  auto ok = formats_for(method);
  if (ok.empty())
    throw InputError("method '" + method + "': no interchange format yet (lora, loha, lokr, textual_inversion, coti, "
                     "custom_diffusion, p_plus have; `pbench merge` bakes any weight-only method into a pipeline; "
                     "docs/interop.md)");
  if (std::find(ok.begin(), ok.end(), format) == ok.end()) {
    std::string list;
    for (const auto& f : ok) list += (list.empty() ? "" : ", ") + f;
    throw InputError("--format " + format + ": " + method + " deltas are written as " + list);
  }
}
}  // namespace

DeltaFile export_delta(const TensorMap& delta, const DeltaInfo& info, const std::string& format) {
  check_format(info.method, format);
  if (info.method == "lora") return export_lora(delta, info, format == "a1111" ? "kohya" : format);
  if (info.method == "loha" || info.method == "lokr") return export_lycoris(delta, info, format);
  if (info.method == "custom_diffusion") return export_custom_diffusion(delta, info);
  if (info.method == "p_plus") return export_p_plus(delta, info);
  return export_embedding(delta, info, format);
}

TensorMap import_delta(const DeltaFile& file, const std::string& method, const std::string& format, DeltaInfo& info,
                       const std::string& source) {
  check_format(method, format);
  info.method = method;
  if (auto it = file.metadata.find("pbench_base_model"); it != file.metadata.end()) info.base_model = it->second;
  if (method == "lora") return import_lora(file, format == "a1111" ? "kohya" : format, info, source);
  if (method == "loha" || method == "lokr") return import_lycoris(file, method, info, source);
  if (method == "custom_diffusion") return import_custom_diffusion(file, info, source);
  if (method == "p_plus") return import_p_plus(file, source);
  return import_embedding(file, format, info, source);
}

}  // namespace pbench::interop
