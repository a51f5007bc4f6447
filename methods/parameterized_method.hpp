#pragma once
// Bookkeeping every weight-parameterization method shares: which tensors
// train (each under its delta key and in a learning-rate group), the delta
// as a name -> tensor map, and loading it back with exact checks. A method's
// options are its typed struct (framework/train/method_options.hpp).
//
// Delta keys are module paths prefixed by the component: `unet.` or
// `text_encoder.`, then the layer's dotted name, then the method's tag and
// tensor ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora.down"),
// or the base parameter itself for methods that unfreeze base tensors
// ("unet.….attn2.to_k.weight").
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/train/method.hpp"

namespace pbench::peft {

inline const std::string kUnetPrefix = "unet.";
inline const std::string kTextPrefix = "text_encoder.";

class ParameterizedMethod : public Method {
 public:
  std::vector<ParamGroup> parameter_groups(double base_lr) override;
  TensorMap delta() override;
  void load_delta(const TensorMap& delta) override;

 protected:
  // Learning rate of a group (absolute); nullopt = the engine's train.lr.
  void set_group_lr(const std::string& group, std::optional<double> lr) { group_lr_[group] = lr; }
  void set_weight_decay(double wd) { weight_decay_ = wd; }
  // Every group's rate is per image (ParamGroup::lr_per_image).
  void set_lr_per_image(bool on) { lr_per_image_ = on; }
  // Makes `tensor` trainable and records it under `key` in `group`.
  void track(const std::string& key, torch::Tensor tensor, const std::string& group);
  // Attaches make(layer) as child `tag` of every layer in `layers` and tracks
  // each of its parameters in `group`. Returns how many layers were adapted.
  size_t attach_each(const std::vector<nn::AdaptableRef>& layers, const std::string& prefix, const std::string& tag,
                     const std::string& group,
                     const std::function<std::shared_ptr<nn::Parameterization>(const nn::AdaptableRef&)>& make);
  // Element count per group (for describe()).
  int64_t tracked_elements(const std::string& group = "") const;

  std::string name_;  // registry name, for messages

 private:
  struct Tracked {
    std::string key;
    torch::Tensor tensor;
    std::string group;
  };
  std::vector<Tracked> tracked_;
  std::vector<std::string> group_order_;
  std::map<std::string, std::optional<double>> group_lr_;
  std::optional<double> weight_decay_;  // unset = train.weight_decay
  bool lr_per_image_ = false;
};

// InputError unless `delta` holds exactly the keys of `expected`, each a float tensor of the
// same shape: what every method's load_delta checks before it copies anything.
void check_delta(const TensorMap& delta, const TensorMap& expected, const std::string& method);

// A whole fine-tuned module's delta (DreamBooth, SINE): every parameter of `module` under
// `prefix` + its name, added to `out`.
void add_module_parameters(TensorMap& out, const std::string& prefix, torch::nn::Module& module);
// check_delta, then `delta` copied into `target`'s tensors: a half-loaded fine-tune is worse than none.
void copy_checked_delta(const TensorMap& delta, const TensorMap& target, const std::string& method);

// InputError naming the key's file:line when a pattern selects no layer (of `kinds`) in any of
// `roots`: patterns that apply to several modules (SVDiff's, on the UNet and the text encoder)
// need only match in one.
void require_patterns_match(const std::vector<torch::nn::Module*>& roots, const std::vector<std::string>& patterns,
                            const std::vector<std::string>& kinds, const cfg::Node& section, const std::string& key);
// Layers of `root` selected by `patterns` (of `kinds`; the option at `key`); InputError
// naming the key's file:line when a pattern selects nothing, so a typo never trains nothing.
std::vector<nn::AdaptableRef> select_or_throw(torch::nn::Module& root, const std::vector<std::string>& patterns,
                                              const std::vector<std::string>& kinds, const cfg::Node& section,
                                              const std::string& key);

// InputError unless every weight is 1: `method` composes by `rule`, which takes no weights.
void require_unit_weights(const std::vector<double>& weights, const std::string& method, const std::string& rule);

// The pipeline's text encoder, or InputError naming `key` when it has none.
torch::nn::Module& text_encoder_or_throw(models::Pipeline& pipeline, const cfg::Node& section, const std::string& key);

}  // namespace pbench::peft
