#include "methods/bottleneck_adapter.hpp"

#include <cmath>
#include <stdexcept>

#include "framework/util/errors.hpp"

namespace pbench::peft {

AdapterActivation adapter_activation(const std::string& name, const std::string& where) {
  if (name == "relu") return AdapterActivation::kRelu;
  if (name == "gelu") return AdapterActivation::kGelu;
  if (name == "silu") return AdapterActivation::kSilu;
  throw InputError(where + ": expected an activation relu, gelu or silu, got '" + name + "'");
}

BottleneckAdapter::BottleneckAdapter(int64_t width, int64_t bottleneck, AdapterActivation act, double scale,
                                     const torch::TensorOptions& like, torch::Generator& gen)
    : act_(act), scale_(scale) {
  auto opts = like.requires_grad(false);
  down_weight = register_parameter("down_weight", torch::empty({bottleneck, width}, opts));
  down_bias = register_parameter("down_bias", torch::empty({bottleneck}, opts));
  // Zero up-projection: the adapter starts as the exact identity of its host (both papers'
  // near-identity initialisation), and gradients still reach `up` through act(down(h)).
  up_weight = register_parameter("up_weight", torch::zeros({width, bottleneck}, opts));
  up_bias = register_parameter("up_bias", torch::zeros({width}, opts));
  if (like.device().type() != torch::kMeta) {
    // torch.nn.Linear's default init for the down-projection (the reference code's nn.Linear).
    torch::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(double(width));
    down_weight.uniform_(-bound, bound, gen);
    down_bias.uniform_(-bound, bound, gen);
  }
}

torch::Tensor BottleneckAdapter::forward(const torch::Tensor& h) const {
  namespace F = torch::nn::functional;
  torch::Tensor z = F::linear(h, down_weight, down_bias);
  switch (act_) {
    case AdapterActivation::kRelu: z = torch::relu(z); break;
    case AdapterActivation::kGelu: z = torch::gelu(z); break;
    case AdapterActivation::kSilu: z = torch::silu(z); break;
  }
  return F::linear(z, up_weight, up_bias) * scale_;
}

SequentialAdapter::SequentialAdapter(int64_t width, int64_t bottleneck, AdapterActivation act, double scale,
                                     const torch::TensorOptions& like, torch::Generator& gen) {
  adapter_ = register_module("adapter", std::make_shared<BottleneckAdapter>(width, bottleneck, act, scale, like, gen));
}

torch::Tensor SequentialAdapter::output(const torch::Tensor&, const torch::Tensor& out) {
  return out + adapter_->forward(out);
}

torch::Tensor AdapterTap::output(const torch::Tensor&, const torch::Tensor& out) {
  recorded_ = out;
  return out;
}

torch::Tensor AdapterTap::take(const std::string& consumer) {
  if (!recorded_.defined())
    throw std::logic_error(consumer + ": the adapter's source layer did not run before it in this forward pass");
  torch::Tensor h = std::move(recorded_);
  recorded_ = torch::Tensor();  // release the activation (and its graph) as soon as it is consumed
  return h;
}

AdapterInjection::AdapterInjection(std::shared_ptr<AdapterTap> tap, std::string name, Into into,
                                   torch::Tensor target_weight, int64_t bottleneck, AdapterActivation act, double scale,
                                   torch::Generator& gen)
    : tap_(std::move(tap)), name_(std::move(name)), into_(into), target_weight_(std::move(target_weight)) {
  // The adapter maps the source width to the width it is added at: the target's input or output.
  const int64_t width = into_ == Into::kInput ? target_weight_.size(1) : target_weight_.size(0);
  adapter_ = register_module("adapter",
                             std::make_shared<BottleneckAdapter>(width, bottleneck, act, scale, target_weight_.options(), gen));
}

torch::Tensor AdapterInjection::output(const torch::Tensor& input, const torch::Tensor& out) {
  torch::Tensor h = tap_->take(name_);
  if (h.sizes() != (into_ == Into::kInput ? input.sizes() : out.sizes()))
    throw std::logic_error(name_ + ": the source layer's output does not match the shape the adapter is added at");
  torch::Tensor a = adapter_->forward(h);
  if (into_ == Into::kOutput) return out + a;
  // W(x + a) + b = y + a·Wᵀ: adding at the input of a Linear without touching its forward.
  return out + torch::nn::functional::linear(a, target_weight_);
}

ResidualInjection::ResidualInjection(std::shared_ptr<AdapterTap> tap, std::string name, int64_t width,
                                     int64_t bottleneck, AdapterActivation act, double scale,
                                     const torch::TensorOptions& like, torch::Generator& gen)
    : tap_(std::move(tap)), name_(std::move(name)) {
  adapter_ = register_module("adapter", std::make_shared<BottleneckAdapter>(width, bottleneck, act, scale, like, gen));
}

torch::Tensor ResidualInjection::residual_update(const torch::Tensor& hidden) {
  torch::Tensor h = tap_->take(name_);
  if (h.sizes() != hidden.sizes())
    throw std::logic_error(name_ + ": the source layer's output does not match the block's residual stream");
  return adapter_->forward(h);
}

}  // namespace pbench::peft
