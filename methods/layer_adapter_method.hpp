#pragma once
// One scaffold for the methods that put one parameterization on each layer their
// options select — LoRA, LoHa, LoKr, DyLoRA, (IA)³: the typed options they are
// built from, the section kept for file:line messages, the learning-rate groups,
// and the selection and attachment of a parameterization per layer of the UNet or
// the text encoder. A method of the family writes its options, its
// parameterization, attach() (what to adapt with what) and describe().
//
// Options need `lr` and `weight_decay`; one that may adapt the text encoder also
// has `text_lr` (null = lr), which becomes the "text_encoder" group's rate.
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "methods/parameterized_method.hpp"

namespace pbench::peft {

enum class Component { unet, text_encoder };

// Layer kinds of the low-rank family: linear layers and convolutions (as a matrix [out, in·kh·kw]).
inline const std::vector<std::string> kLinearAndConv{"linear", "conv2d"};

namespace detail {
template <class Options, class = void>
struct has_text_lr : std::false_type {};
template <class Options>
struct has_text_lr<Options, std::void_t<decltype(std::declval<Options&>().text_lr)>> : std::true_type {};
}  // namespace detail

template <class Options>
class LayerAdapterMethod : public ParameterizedMethod {
 protected:
  using MakeParameterization = std::function<std::shared_ptr<nn::Parameterization>(const nn::AdaptableRef&)>;

  LayerAdapterMethod(std::string name, const Options& options, const cfg::Node& section)
      : opt_(options), cfg_(section) {
    name_ = std::move(name);
    set_group_lr("unet", opt_.lr);
    if constexpr (detail::has_text_lr<Options>::value)
      set_group_lr("text_encoder", opt_.text_lr ? opt_.text_lr : opt_.lr);
    set_weight_decay(opt_.weight_decay);
  }

  // Attaches make(layer) as child `tag` of every layer of `kinds` in `component` that
  // `patterns` (the option at `key`) selects, tracked in the component's group; InputError
  // naming `key` when a pattern selects nothing (`text_encoder` when the pipeline has no
  // text encoder). Returns how many layers it adapted.
  size_t adapt(MethodTarget& target, Component component, const std::vector<std::string>& patterns,
               const std::string& key, const std::vector<std::string>& kinds, const std::string& tag,
               const MakeParameterization& make) {
    const bool unet = component == Component::unet;
    torch::nn::Module& root =
        unet ? static_cast<torch::nn::Module&>(*target.pipeline.unet)
             : text_encoder_or_throw(target.pipeline, cfg_, "text_encoder");  // names the switch the user set
    const size_t n = attach_each(select_or_throw(root, patterns, kinds, cfg_, key), unet ? kUnetPrefix : kTextPrefix,
                                 tag, unet ? "unet" : "text_encoder", make);
    (unet ? unet_layers_ : text_layers_) += n;
    return n;
  }

  // "<what> on N UNet layers", plus " + M text-encoder layers" when any: what describe() says.
  std::string on_layers(const std::string& what) const {
    std::string s = what + " on " + std::to_string(unet_layers_) + " UNet layers";
    if (text_layers_) s += " + " + std::to_string(text_layers_) + " text-encoder layers";
    return s;
  }

  Options opt_;
  cfg::Node cfg_;  // the section over the defaults, for the file:line of keys
  size_t unet_layers_ = 0, text_layers_ = 0;
};

}  // namespace pbench::peft
