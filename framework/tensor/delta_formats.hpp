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
//   P+, pbench:        {<placeholder>: [L, d]}, row l for cross-attention layer l (forward order)
//   P+, kohya (XTI):   {IN01: [1, d], IN02, IN04, IN05, IN07, IN08, MID, OUT03 … OUT11} on SD v1 — one
//                      key per layer, named after its LDM block; the token is the file's name
//                      (train_textual_inversion_XTI.py / gen_img_diffusers.py --XTI_embeddings)
//   Custom Diffusion, pbench:    unet.<attn2>.to_k.weight, .to_v.weight (crossattn: .to_q.weight,
//                                .to_out.0.weight/.bias), text_encoder.….custom_diffusion.new_tokens [n, d]
//   Custom Diffusion, diffusers: pytorch_custom_diffusion_weights.safetensors (unet.save_attn_procs):
//                                <attn2>.processor.to_k_custom_diffusion.weight, to_v_…, to_q_…,
//                                to_out_custom_diffusion.0.weight/.bias; and beside it one
//                                <token>.safetensors {<token>: [d]} per modifier token (save_new_embed;
//                                pipe.load_textual_inversion reads it)
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
  // Custom Diffusion: the modifier tokens of the delta's rows, in order (empty: <new1>, <new2>, …).
  std::vector<std::string> tokens{};
  // What the base model's UNet says about the delta's layers (export-delta reads it from the
  // UNet's config; absent for a bare delta without --base-model):
  //   LoRA on convs in kohya's layout: each conv's kernel {kh, kw} by "unet.<module>" (kohya keeps
  //   lora_down as a [r, in, kh, kw] kernel, pbench its [r, in·kh·kw] matrix view);
  //   P+ in kohya's XTI layout: the cross-attention layers in forward order
  //   (UNet2DCondition::cross_attention_layers()) and layers_per_block per down block, which name
  //   each row after its LDM block (IN01 … MID … OUT11 on SD v1).
  std::map<std::string, std::vector<int64_t>> conv_kernels{};
  std::vector<std::string> cross_attention_layers{};
  std::vector<int64_t> layers_per_block{};
};

struct DeltaFile {
  TensorMap tensors;
  std::map<std::string, std::string> metadata;
  // Files that travel beside the main one, in order: (file name, tensors). Custom Diffusion's
  // token embeddings, one <token>.safetensors each, as diffusers writes them.
  std::vector<std::pair<std::string, TensorMap>> companions{};
};

// The formats a method's delta can be written in ("lora": diffusers, peft, kohya, a1111;
// "loha", "lokr": kohya, a1111 — LyCORIS's keys; "custom_diffusion": diffusers; "p_plus": kohya).
std::vector<std::string> formats_for(const std::string& method);

// True for the methods whose deltas carry a scale alpha / r (lora, loha, lokr).
bool has_alpha(const std::string& method);

// True when writing `method`'s delta in `format` reads DeltaInfo's base-UNet fields: conv kernels
// (kohya's LoRA, LyCORIS' LoKr), the XTI block names (P+).
bool needs_base_unet(const std::string& method, const std::string& format);

// InputError naming the key when the delta cannot be written in `format`.
DeltaFile export_delta(const TensorMap& delta, const DeltaInfo& info, const std::string& format);

// Back to pbench's keys; fills `info` from the file (rank, alpha, token, base).
// InputError naming `source` and the key for unknown keys, inconsistent ranks,
// a missing alpha or up/down half.
TensorMap import_delta(const DeltaFile& file, const std::string& method, const std::string& format,
                       DeltaInfo& info, const std::string& source);

}  // namespace pbench::interop
