#include "framework/models/sd/kv_prefix.hpp"

#include <stdexcept>

namespace pbench::models {

void PrefixableAttention::attach_prefix(const std::string& tag, std::shared_ptr<KeyValuePrefix> prefix) {
  if (prefix_) throw std::logic_error("attention layer already has a key/value prefix");
  prefix_owner().register_module(tag, prefix);
  prefix_ = std::move(prefix);
}

void PrefixableAttention::prepend_prefix(torch::Tensor& k, torch::Tensor& v, torch::Tensor& additive_mask) const {
  if (!prefix_) return;
  auto [pk, pv] = prefix_->keys_values();
  const int64_t b = k.size(0), p = pk.size(0);
  k = torch::cat({pk.unsqueeze(0).expand({b, p, pk.size(1)}).to(k.dtype()), k}, 1);
  v = torch::cat({pv.unsqueeze(0).expand({b, p, pv.size(1)}).to(v.dtype()), v}, 1);
  if (additive_mask.defined()) additive_mask = torch::constant_pad_nd(additive_mask, {p, 0}, 0.0);
}

}  // namespace pbench::models
