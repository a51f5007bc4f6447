#include "framework/tensor/adaptable_layers.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "framework/tensor/added_token_rows.hpp"

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

std::string Adaptable::fold_refusal() const {
  for (const auto& [tag, p] : attached_)
    if (p->rewrites_output() && !folds_output(*p))
      return "'" + tag + "' rewrites the " + layer_kind() +
             " layer's output in a way no weight can express (not affine in its input)";
  return "";
}

void Adaptable::fold() {
  if (!adapted()) return;
  if (std::string refusal = fold_refusal(); !refusal.empty()) throw std::invalid_argument(refusal);
  torch::NoGradGuard no_grad;
  auto [weight, bias] = folded_tensors();
  auto own = as_module().named_parameters(false);
  if (weight.defined()) own["weight"].set_data(weight.detach().contiguous());
  if (bias.defined()) own["bias"].set_data(bias.detach().contiguous());
  std::vector<std::string> tags;
  for (const auto& [tag, p] : attached_) tags.push_back(tag);
  for (const std::string& tag : tags) detach(tag);
}

std::pair<torch::Tensor, torch::Tensor> Adaptable::folded_tensors() {
  auto own = as_module().named_parameters(false);
  const torch::Tensor* weight = own.find("weight");
  const torch::Tensor* bias = own.find("bias");
  return {weight ? effective_weight(*weight) : torch::Tensor(), bias ? effective_bias(*bias) : torch::Tensor()};
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

// An affine output rewrite leaves the layer x -> W'x + b'; forward() on the inputs 0, e_1, …, e_in
// reads b' and W' off it (one-hot inputs make each product exact; only b' is subtracted back).
std::pair<torch::Tensor, torch::Tensor> LinearImpl::folded_tensors() {
  bool probes = false;
  for (const auto& [tag, p] : attached())
    probes = probes || p->rewrites_output();
  if (!probes) return Adaptable::folded_tensors();
  const int64_t in = weight.size(1);
  torch::Tensor probe = torch::cat({torch::zeros({1, in}, weight.options()), torch::eye(in, weight.options())});
  torch::Tensor out = forward(probe);
  torch::Tensor offset = out[0];
  torch::Tensor folded_weight = (out.slice(0, 1) - offset).t();
  if (bias.defined()) return {folded_weight, offset};
  if (offset.abs().max().item<double>() != 0.0)
    throw std::invalid_argument("the adapted linear layer adds a bias the base layer has no tensor for");
  return {folded_weight, torch::Tensor()};
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

bool EmbeddingImpl::folds_output(const Parameterization& p) const {
  return dynamic_cast<const AddedTokenRows*>(&p) != nullptr;
}

// Added token rows become the table's next rows, in id order; they must continue the table.
std::pair<torch::Tensor, torch::Tensor> EmbeddingImpl::folded_tensors() {
  std::vector<const AddedTokenRows*> added;
  for (const auto& [tag, p] : attached())
    if (auto* rows = dynamic_cast<const AddedTokenRows*>(p.get())) added.push_back(rows);
  std::sort(added.begin(), added.end(), [](auto* a, auto* b) { return a->first_id() < b->first_id(); });
  std::vector<torch::Tensor> parts = {Adaptable::folded_tensors().first};
  int64_t next = parts.front().size(0);
  for (const AddedTokenRows* rows : added) {
    if (rows->first_id() != next)
      throw std::invalid_argument("added token rows start at id " + std::to_string(rows->first_id()) +
                                  ", not at the table's next id " + std::to_string(next));
    parts.push_back(rows->rows.to(parts.front().dtype()));
    next += rows->rows.size(0);
  }
  options.num_embeddings(next);
  return {torch::cat(parts), torch::Tensor()};
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
