#include "framework/tensor/adaptable_layers.hpp"

#include <cmath>
#include <stdexcept>

namespace F = torch::nn::functional;

namespace pbench::nn {

void Adaptable::attach(const std::string& tag, std::shared_ptr<Parameterization> p) {
  for (const auto& [existing, _] : attached_)
    if (existing == tag) throw std::logic_error("a parameterization '" + tag + "' is already attached to this layer");
  // A tag detached before left an empty child under its name (see detach): reuse that slot.
  if (as_module().named_children().contains(tag))
    as_module().replace_module(tag, p);
  else
    as_module().register_module(tag, p);
  attached_.emplace_back(tag, std::move(p));
}

void Adaptable::detach(const std::string& tag) {
  for (auto it = attached_.begin(); it != attached_.end(); ++it) {
    if (it->first == tag) {
      attached_.erase(it);
      // LibTorch cannot unregister a child; replace it with an empty module so
      // its parameters leave named_parameters().
      as_module().replace_module(tag, std::make_shared<Parameterization>());
      return;
    }
  }
  throw std::logic_error("no parameterization '" + tag + "' attached to this layer");
}

torch::Tensor Adaptable::effective_weight(const torch::Tensor& base) const {
  torch::Tensor w = base;
  for (const auto& [tag, p] : attached_)
    if (p->rewrites_weight()) w = p->weight(w);
  return w;
}

torch::Tensor Adaptable::effective_bias(const torch::Tensor& base) const {
  if (!base.defined()) return base;
  torch::Tensor b = base;
  for (const auto& [tag, p] : attached_)
    if (p->rewrites_weight()) b = p->bias(b);
  return b;
}

torch::Tensor Adaptable::adapted_output(const torch::Tensor& input, torch::Tensor out) const {
  for (const auto& [tag, p] : attached_)
    if (p->rewrites_output()) out = p->output(input, out);
  return out;
}

// ---- Linear (same init as torch::nn::Linear) -------------------------------
LinearImpl::LinearImpl(const torch::nn::LinearOptions& o, const torch::TensorOptions& t) : options(o) {
  weight = register_parameter("weight", torch::empty({o.out_features(), o.in_features()}, t));
  if (o.bias()) bias = register_parameter("bias", torch::empty({o.out_features()}, t));
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  if (!holds_data(weight)) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(double(options.in_features()));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

torch::Tensor LinearImpl::forward(const torch::Tensor& input) const {
  if (!adapted()) return F::linear(input, weight, bias);
  return adapted_output(input, F::linear(input, effective_weight(weight), effective_bias(bias)));
}

// ---- Conv2d ----------------------------------------------------------------
Conv2dImpl::Conv2dImpl(const torch::nn::Conv2dOptions& o, const torch::TensorOptions& t) : options(o) {
  if (!c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()))
    throw std::invalid_argument("pbench::nn::Conv2d supports padding_mode zeros only");
  auto k = o.kernel_size();
  weight = register_parameter("weight", torch::empty({o.out_channels(), o.in_channels() / o.groups(), (*k)[0], (*k)[1]}, t));
  if (o.bias()) bias = register_parameter("bias", torch::empty({o.out_channels()}, t));
  reset_parameters();
}

void Conv2dImpl::reset_parameters() {
  if (!holds_data(weight)) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double fan_in = double(weight.size(1) * weight.size(2) * weight.size(3));
    double bound = 1.0 / std::sqrt(fan_in);
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

torch::Tensor Conv2dImpl::forward(const torch::Tensor& input) const {
  auto conv = [&](const torch::Tensor& w, const torch::Tensor& b) {
    return F::conv2d(input, w,
                     F::Conv2dFuncOptions().bias(b).stride(options.stride()).padding(options.padding())
                         .dilation(options.dilation()).groups(options.groups()));
  };
  if (!adapted()) return conv(weight, bias);
  return adapted_output(input, conv(effective_weight(weight), effective_bias(bias)));
}

// ---- GroupNorm ---------------------------------------------------------------
GroupNormImpl::GroupNormImpl(const torch::nn::GroupNormOptions& o, const torch::TensorOptions& t) : options(o) {
  if (o.affine()) {
    weight = register_parameter("weight", torch::ones({o.num_channels()}, t));
    bias = register_parameter("bias", torch::zeros({o.num_channels()}, t));
  }
}

torch::Tensor GroupNormImpl::forward(const torch::Tensor& input) const {
  torch::Tensor w = adapted() && weight.defined() ? effective_weight(weight) : weight;
  torch::Tensor b = adapted() && bias.defined() ? effective_bias(bias) : bias;
  torch::Tensor out = torch::group_norm(input, options.num_groups(), w, b, options.eps());
  return adapted() ? adapted_output(input, out) : out;
}

// ---- LayerNorm ---------------------------------------------------------------
LayerNormImpl::LayerNormImpl(const torch::nn::LayerNormOptions& o, const torch::TensorOptions& t) : options(o) {
  if (o.elementwise_affine()) {
    weight = register_parameter("weight", torch::ones(o.normalized_shape(), t));
    bias = register_parameter("bias", torch::zeros(o.normalized_shape(), t));
  }
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& input) const {
  torch::Tensor w = adapted() && weight.defined() ? effective_weight(weight) : weight;
  torch::Tensor b = adapted() && bias.defined() ? effective_bias(bias) : bias;
  torch::Tensor out = torch::layer_norm(input, options.normalized_shape(), w, b, options.eps());
  return adapted() ? adapted_output(input, out) : out;
}

// ---- Embedding ---------------------------------------------------------------
EmbeddingImpl::EmbeddingImpl(const torch::nn::EmbeddingOptions& o, const torch::TensorOptions& t) : options(o) {
  weight = register_parameter("weight", torch::empty({o.num_embeddings(), o.embedding_dim()}, t));
  if (holds_data(weight)) {
    torch::NoGradGuard no_grad;
    weight.normal_(0.0, 1.0);  // torch.nn.Embedding's initialisation
  }
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) const {
  if (!adapted()) return torch::embedding(weight, ids);
  // Ids past the table (tokens a method added, see added_token_rows.hpp) are
  // looked up clamped here and replaced by the method's output rewrite, which
  // sees the original ids.
  torch::Tensor w = effective_weight(weight);
  torch::Tensor out = torch::embedding(w, ids.clamp_max(w.size(0) - 1));
  return adapted_output(ids, out);
}

// ---- discovery -------------------------------------------------------------
namespace {
void collect(torch::nn::Module& module, const std::string& prefix, std::vector<AdaptableRef>& out) {
  for (const auto& item : module.named_children()) {
    torch::nn::Module* child = item.value().get();
    if (dynamic_cast<Parameterization*>(child)) continue;  // a method's own tensors are never adapted again
    std::string name = prefix.empty() ? item.key() : prefix + "." + item.key();
    if (auto* layer = dynamic_cast<Adaptable*>(child)) out.push_back(AdaptableRef{name, child, layer});
    collect(*child, name, out);
  }
}
}  // namespace

std::vector<AdaptableRef> adaptable_layers(torch::nn::Module& root) {
  std::vector<AdaptableRef> out;
  collect(root, "", out);
  return out;
}

}  // namespace pbench::nn
