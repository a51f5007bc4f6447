#pragma once
// Adaptable layers: the one seam through which every personalization / PEFT
// method changes a model (ARCHITECTURE.md, "Adaptable layers").
//
// Every Linear, Conv2d, GroupNorm, LayerNorm and Embedding of the pbench
// models is one of these. They are drop-in replacements for the torch::nn
// layers of the same name (same options, same `weight` / `bias` parameter
// names, so loading stays a copy by name), plus a list of attached
// parameterizations. A parameterization either
//   - rewrites the effective weight/bias:  W' = f(W, θ)   (SVDiff, LoRA merged,
//     LoHa, LoKr, DiffFit scales, Cones), or
//   - rewrites the output:  y' = g(x, y, θ)              (LoRA, IA³, adapters),
// or both. Its learned tensors θ are parameters of the parameterization,
// which is registered as a child module of the layer under the method's tag
// ("lora", "svdiff", ...), so the delta's state-dict keys read like PEFT ones
// (`…attn2.to_k.lora.down.weight`) and can be saved and counted alone.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace pbench::nn {

class Parameterization : public torch::nn::Module {
 public:
  // Effective weight / bias computed from the base ones (default: unchanged).
  virtual torch::Tensor weight(const torch::Tensor& base) { return base; }
  virtual torch::Tensor bias(const torch::Tensor& base) { return base; }
  // Output rewrite given the layer input (default: unchanged).
  virtual torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) { return out; }
  virtual bool rewrites_weight() const { return false; }
  virtual bool rewrites_output() const { return false; }
  // True when the output rewrite keeps the layer affine in its input (LoRA's y + s·B·A·x on a
  // linear, IA³'s and DiffFit's per-feature scales): `pbench merge` can then fold it into the
  // layer's weight and bias. A nonlinear adapter or a gated edit (Perfusion) is not. Default: no.
  virtual bool output_is_affine() const { return false; }
};

// What every adaptable layer shares: attaching, listing and detaching
// parameterizations, in order of attachment.
class Adaptable {
 public:
  virtual ~Adaptable() = default;
  // Registers `p` as child module `tag` of this layer; throws if the tag is taken.
  void attach(const std::string& tag, std::shared_ptr<Parameterization> p);
  void detach(const std::string& tag);
  const std::vector<std::pair<std::string, std::shared_ptr<Parameterization>>>& attached() const { return attached_; }
  bool adapted() const { return !attached_.empty(); }
  virtual const char* layer_kind() const = 0;  // "linear", "conv2d", "group_norm", "layer_norm", "embedding"
  // Folds every attached parameterization into the layer's own weight and bias and detaches them
  // all: the plain layer then computes what the adapted one computed (`pbench merge`, a method
  // baked into its base model). Weight rewrites always fold; an affine output rewrite folds on a
  // Linear; an Embedding's added token rows become rows of its table. Throws
  // std::invalid_argument with fold_refusal() when a parameterization cannot fold, before
  // changing anything.
  void fold();
  // Why fold() would refuse ("'perfusion' rewrites the linear layer's output …"); "" when it folds.
  std::string fold_refusal() const;

 protected:
  virtual torch::nn::Module& as_module() = 0;
  static bool holds_data(const torch::Tensor& t) { return t.device().type() != torch::kMeta; }
  torch::Tensor effective_weight(const torch::Tensor& base) const;
  torch::Tensor effective_bias(const torch::Tensor& base) const;  // undefined stays undefined
  torch::Tensor adapted_output(const torch::Tensor& input, torch::Tensor out) const;
  // The folded weight and bias for this layer kind, with the attached parameterizations still in
  // place; the default folds weight rewrites alone (fold() has already refused anything else).
  virtual std::pair<torch::Tensor, torch::Tensor> folded_tensors();
  // Whether this kind can fold `p`'s output rewrite (Linear: an affine one; Embedding: added rows).
  virtual bool folds_output(const Parameterization& p) const { return false; }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<Parameterization>>> attached_;
};

// Every layer takes optional TensorOptions: on the `meta` device a full-size
// model is built with shapes only (parameter counts without memory) and
// random initialisation is skipped.
class LinearImpl : public torch::nn::Module, public Adaptable {
 public:
  explicit LinearImpl(const torch::nn::LinearOptions& options, const torch::TensorOptions& tensor_options = {});
  LinearImpl(int64_t in, int64_t out) : LinearImpl(torch::nn::LinearOptions(in, out)) {}
  LinearImpl(int64_t in, int64_t out, bool with_bias, const torch::TensorOptions& tensor_options)
      : LinearImpl(torch::nn::LinearOptions(in, out).bias(with_bias), tensor_options) {}
  torch::Tensor forward(const torch::Tensor& input) const;
  void reset_parameters();
  const char* layer_kind() const override { return "linear"; }
  torch::nn::LinearOptions options;
  torch::Tensor weight, bias;

 protected:
  torch::nn::Module& as_module() override { return *this; }
  std::pair<torch::Tensor, torch::Tensor> folded_tensors() override;
  bool folds_output(const Parameterization& p) const override { return p.output_is_affine(); }
};
TORCH_MODULE(Linear);

class Conv2dImpl : public torch::nn::Module, public Adaptable {
 public:
  explicit Conv2dImpl(const torch::nn::Conv2dOptions& options, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& input) const;
  void reset_parameters();
  const char* layer_kind() const override { return "conv2d"; }
  torch::nn::Conv2dOptions options;
  torch::Tensor weight, bias;

 protected:
  torch::nn::Module& as_module() override { return *this; }
};
TORCH_MODULE(Conv2d);

class GroupNormImpl : public torch::nn::Module, public Adaptable {
 public:
  explicit GroupNormImpl(const torch::nn::GroupNormOptions& options, const torch::TensorOptions& tensor_options = {});
  torch::Tensor forward(const torch::Tensor& input) const;
  const char* layer_kind() const override { return "group_norm"; }
  torch::nn::GroupNormOptions options;
  torch::Tensor weight, bias;  // undefined when affine is false

 protected:
  torch::nn::Module& as_module() override { return *this; }
};
TORCH_MODULE(GroupNorm);

class LayerNormImpl : public torch::nn::Module, public Adaptable {
 public:
  explicit LayerNormImpl(const torch::nn::LayerNormOptions& options, const torch::TensorOptions& tensor_options = {});
  LayerNormImpl(int64_t dim, double eps, const torch::TensorOptions& tensor_options)
      : LayerNormImpl(torch::nn::LayerNormOptions({dim}).eps(eps), tensor_options) {}
  torch::Tensor forward(const torch::Tensor& input) const;
  const char* layer_kind() const override { return "layer_norm"; }
  torch::nn::LayerNormOptions options;
  torch::Tensor weight, bias;

 protected:
  torch::nn::Module& as_module() override { return *this; }
};
TORCH_MODULE(LayerNorm);

class EmbeddingImpl : public torch::nn::Module, public Adaptable {
 public:
  explicit EmbeddingImpl(const torch::nn::EmbeddingOptions& options, const torch::TensorOptions& tensor_options = {});
  EmbeddingImpl(int64_t num, int64_t dim) : EmbeddingImpl(torch::nn::EmbeddingOptions(num, dim)) {}
  EmbeddingImpl(int64_t num, int64_t dim, const torch::TensorOptions& tensor_options)
      : EmbeddingImpl(torch::nn::EmbeddingOptions(num, dim), tensor_options) {}
  torch::Tensor forward(const torch::Tensor& ids) const;
  const char* layer_kind() const override { return "embedding"; }
  torch::nn::EmbeddingOptions options;
  torch::Tensor weight;

 protected:
  torch::nn::Module& as_module() override { return *this; }
  std::pair<torch::Tensor, torch::Tensor> folded_tensors() override;
  bool folds_output(const Parameterization& p) const override;
};
TORCH_MODULE(Embedding);

// A layer found by name in a model: its dotted path ("down_blocks.0.…to_k") and handles.
struct AdaptableRef {
  std::string name;
  torch::nn::Module* module = nullptr;
  Adaptable* layer = nullptr;
  // The layer's own `weight` (shapes, device and dtype a parameterization is built from).
  torch::Tensor weight() const { return module->named_parameters(false)["weight"]; }
};
// Every adaptable layer under `root`, in module-tree order.
std::vector<AdaptableRef> adaptable_layers(torch::nn::Module& root);

}  // namespace pbench::nn
