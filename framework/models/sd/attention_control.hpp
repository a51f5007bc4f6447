#pragma once
// The attention-control seam (Prompt-to-Prompt, arXiv 2208.01626): a
// controller installed on the UNet sees every attention layer's probability
// maps softmax(QKᵀ/√d) and may return others, by layer (place in the UNet,
// self or cross) and by whatever step its owner has set. Editing techniques
// read, replace and reweight maps through it; a layer without a controller runs
// exactly as before (no extra op on the forward path).
#include <torch/torch.h>

#include <memory>
#include <string>

namespace pbench::models {

class UNet2DConditionImpl;

enum class UNetPlace { down, mid, up };

// Where an attention layer sits: what P2P's controllers key their decisions on.
struct AttentionSite {
  UNetPlace place = UNetPlace::down;
  bool cross = false;  // attn2 (keys from the text context), else attn1 (self-attention)
  int64_t index = 0;   // 0-based among the UNet's controlled layers, in module order
  std::string name;    // module path, e.g. "up_blocks.1.attentions.0.transformer_blocks.0.attn2"
};

class AttentionController {
 public:
  virtual ~AttentionController() = default;
  // probs: [B·heads, S, T], batch-major (sample b's heads are rows b·heads … b·heads + heads − 1),
  // S query positions, T keys. Returns the maps the layer multiplies its values with.
  virtual torch::Tensor control(const torch::Tensor& probs, int64_t heads, const AttentionSite& site) = 0;
};

// Installs `controller` on every attention layer of the UNet's transformer blocks (attn1 and
// attn2); nullptr removes it. Returns the number of layers.
int64_t set_attention_controller(UNet2DConditionImpl& unet, const std::shared_ptr<AttentionController>& controller);

// Installs a controller for its lifetime, then removes it (so a throwing edit never leaves
// a controller on a shared pipeline).
class ScopedAttentionController {
 public:
  ScopedAttentionController(UNet2DConditionImpl& unet, const std::shared_ptr<AttentionController>& controller);
  ~ScopedAttentionController();
  ScopedAttentionController(const ScopedAttentionController&) = delete;
  ScopedAttentionController& operator=(const ScopedAttentionController&) = delete;

 private:
  UNet2DConditionImpl& unet_;
};

}  // namespace pbench::models
