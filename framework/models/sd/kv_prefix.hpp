#pragma once
// The seam for methods that add key/value rows to an attention layer
// (Prefix-Tuning, arXiv 2101.00190): a KeyValuePrefix attached to a
// PrefixableAttention supplies P extra keys and values, in the layer's
// projected space [P, inner], that every query may attend to in front of the
// layer's own keys. Both the UNet's `Attention` (self and cross) and the CLIP
// encoder's `self_attn` are prefixable; a layer without a prefix runs exactly
// as before (no extra op on the forward path).
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

namespace pbench::models {

class KeyValuePrefix : public torch::nn::Module {
 public:
  // Keys and values to prepend, each [P, inner] (shared by the whole batch).
  virtual std::pair<torch::Tensor, torch::Tensor> keys_values() = 0;
};

class PrefixableAttention {
 public:
  virtual ~PrefixableAttention() = default;
  // Registers `prefix` as child module `tag`; one prefix per layer.
  void attach_prefix(const std::string& tag, std::shared_ptr<KeyValuePrefix> prefix);
  bool has_prefix() const { return prefix_ != nullptr; }
  // Width of the projected keys/values a prefix must supply.
  virtual int64_t key_value_dim() const = 0;
  // Width of the tokens the keys/values are projected from (context for cross-attention).
  virtual int64_t key_value_source_dim() const = 0;
  // The layer's own key/value projections of `source` [B, T, source_dim] (init from real activations).
  virtual std::pair<torch::Tensor, torch::Tensor> project_key_value(const torch::Tensor& source) = 0;

 protected:
  virtual torch::nn::Module& prefix_owner() = 0;
  // k, v [B, T, inner] -> [B, P + T, inner]; an additive mask whose last
  // dimension indexes keys gains P leading zeros (prefix rows are never masked).
  void prepend_prefix(torch::Tensor& k, torch::Tensor& v, torch::Tensor& additive_mask) const;

 private:
  std::shared_ptr<KeyValuePrefix> prefix_;
};

}  // namespace pbench::models
