#pragma once
// Deltas in the key layouts other tools read (docs/interop.md), and back.
//
//   LoRA, pbench:      unet.<module>.lora.down [r, in]   unet.<module>.lora.up [out, r]
//                      text_encoder.<module>.lora.{down,up}
//   diffusers / PEFT:  unet.<module>.lora_A.weight, unet.<module>.lora_B.weight,
//                      text_encoder.<module>.lora_{A,B}.weight  (what load_lora_weights reads);
//                      metadata lora_alpha and r: loaders that ignore them take alpha = r
//   kohya / A1111:     lora_unet_<module with . -> _>.lora_down.weight, .lora_up.weight,
//                      .alpha (0-d float), lora_te_<module>.…  (ComfyUI reads the same)
//   LoHa, pbench:      unet.<module>.loha.{up1,down1,up2,down2}   (ΔW = (up1 down1) ⊙ (up2 down2) · alpha/r)
//   LoHa, LyCORIS:     lora_unet_<module>.hada_w1_a, .hada_w1_b, .hada_w2_a, .hada_w2_b, .alpha
//   LoKr, pbench:      unet.<module>.lokr.w1 and .lokr.w2 (full) or .lokr.w2_up / .lokr.w2_down
//   LoKr, LyCORIS:     lora_unet_<module>.lokr_w1, .lokr_w2 or .lokr_w2_a / .lokr_w2_b, .alpha
//                      (kohya-style keys; A1111 and ComfyUI read LyCORIS files in this layout)
//   Textual Inversion: diffusers learned_embeds {<token>: [n, d]} (= pbench's own keys);
//                      A1111 {emb_params: [n, d]} with the token in metadata `name`
//
// Pure key/metadata plumbing: the tensors are the same objects (no copies, no
// arithmetic), so export followed by import is bit-identical.
#include <map>
#include <string>
#include <vector>

#include "framework/tensor/safetensors_torch.hpp"

namespace pbench::interop {

struct DeltaInfo {
  std::string method;      // pbench method name: lora, textual_inversion
  std::string base_model;  // what it was trained on (model name or folder)
  std::string run_id;
  int64_t rank = 0;        // LoRA / LoHa / LoKr: r (read from the shapes; LoKr: of its low-rank W2)
  double alpha = 0;        // scale alpha / r
};

struct DeltaFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
};

// The formats a method's delta can be written in ("lora": diffusers, peft, kohya, a1111;
// "loha", "lokr": kohya, a1111 — LyCORIS's keys).
std::vector<std::string> formats_for(const std::string& method);

// True for the methods whose deltas carry a scale alpha / r (lora, loha, lokr).
bool has_alpha(const std::string& method);

// InputError naming the key when the delta cannot be written in `format`.
DeltaFile export_delta(const TensorMap& delta, const DeltaInfo& info, const std::string& format);

// Back to pbench's keys; fills `info` from the file (rank, alpha, token, base).
// InputError naming `source` and the key for unknown keys, inconsistent ranks,
// a missing alpha or up/down half.
TensorMap import_delta(const DeltaFile& file, const std::string& method, const std::string& format,
                       DeltaInfo& info, const std::string& source);

}  // namespace pbench::interop
