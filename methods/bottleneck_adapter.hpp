#pragma once
// Bottleneck adapters (Houlsby et al., arXiv 1902.00751; Xiang et al., arXiv 2303.18181):
//   a(h) = scale · up(act(down(h))),  down: C -> m (with bias), up: m -> C (with bias),
// up initialised to zero so the adapted model starts exactly at the base model.
// Per adapter: 2·m·C + m + C parameters.
//
// Two ways to place one on the adaptable-layer seam (output rewrites only):
//   - SequentialAdapter on one layer:  y' = y + a(y)   (Houlsby: after a sublayer, before its residual add);
//   - AdapterTap on a source layer records that layer's output h; AdapterInjection on a target layer
//     then adds a(h) to the target's output (y' = y + a(h)) or to its input
//     (y' = W(x + a(h)) + b = y + a(h)·Wᵀ, exact for a Linear) — Closer-Look's "input position" /
//     "output position" pairs;
//   - ResidualInjection (a transformer block's residual-stream seam, models::ResidualHook) adds a(h)
//     to the block's hidden states before norm3: h_res' = h_res + a(h), out = ff(norm3(h_res')) + h_res'
//     — Closer-Look's attn2 output -> FFN input, as the reference code places it.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "framework/models/sd/unet_blocks.hpp"
#include "framework/tensor/adaptable_layers.hpp"

namespace pbench::peft {

enum class AdapterActivation { kRelu, kGelu, kSilu };
// "relu" / "gelu" / "silu"; throws InputError naming `where` otherwise.
AdapterActivation adapter_activation(const std::string& name, const std::string& where);
// The names adapter_activation knows, for an option's allowed values.
inline const std::vector<std::string> kAdapterActivationNames{"relu", "gelu", "silu"};

class BottleneckAdapter : public torch::nn::Module {
 public:
  // `like` gives device/dtype (meta while counting); `gen` is the run's method-init
  // stream (MethodTarget::generator) the down-projection is drawn from.
  BottleneckAdapter(int64_t width, int64_t bottleneck, AdapterActivation act, double scale, const torch::TensorOptions& like,
                    torch::Generator& gen);
  torch::Tensor forward(const torch::Tensor& h) const;
  torch::Tensor down_weight, down_bias, up_weight, up_bias;

 private:
  AdapterActivation act_;
  double scale_;
};

// y' = y + adapter(y).
class SequentialAdapter : public nn::Parameterization {
 public:
  SequentialAdapter(int64_t width, int64_t bottleneck, AdapterActivation act, double scale, const torch::TensorOptions& like,
                    torch::Generator& gen);
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_output() const override { return true; }

 private:
  std::shared_ptr<BottleneckAdapter> adapter_;
};

// Records the layer's output for the injection that follows in the same forward pass.
// Holds no parameters; its output is the layer's output unchanged.
class AdapterTap : public nn::Parameterization {
 public:
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_output() const override { return true; }
  // The recorded tensor, handed over once (a second take without a new forward is a logic error).
  torch::Tensor take(const std::string& consumer);

 private:
  torch::Tensor recorded_;
};

class AdapterInjection : public nn::Parameterization {
 public:
  enum class Into { kOutput, kInput };
  // `target_weight`: the target Linear's weight [out, in] (used for Into::kInput).
  AdapterInjection(std::shared_ptr<AdapterTap> tap, std::string name, Into into, torch::Tensor target_weight,
                   int64_t bottleneck, AdapterActivation act, double scale, torch::Generator& gen);
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override;
  bool rewrites_output() const override { return true; }

 private:
  std::shared_ptr<AdapterTap> tap_;
  std::string name_;
  Into into_;
  torch::Tensor target_weight_;
  std::shared_ptr<BottleneckAdapter> adapter_;
};

// Adds a(h) of the tapped source output to the block's residual stream before norm3.
class ResidualInjection : public models::ResidualHook {
 public:
  ResidualInjection(std::shared_ptr<AdapterTap> tap, std::string name, int64_t width, int64_t bottleneck,
                    AdapterActivation act, double scale, const torch::TensorOptions& like, torch::Generator& gen);
  torch::Tensor residual_update(const torch::Tensor& hidden) override;

 private:
  std::shared_ptr<AdapterTap> tap_;
  std::string name_;
  std::shared_ptr<BottleneckAdapter> adapter_;
};

}  // namespace pbench::peft
