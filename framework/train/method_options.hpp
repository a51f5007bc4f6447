#pragma once
// Registering a method from its typed options struct (framework/config/options.hpp):
// the struct is the one source of the method's defaults. From it come the
// registry entry's defaults (what `method=<name>` composes, what `pbench params
// --methods all` attaches), the checks of a user's section
// (types, ranges, choices, unknown keys; file:line errors at plan time) and the
// help table of `pbench methods <name>`.
//
//   void register_lora(Registry<MethodEntry>& r) {
//     register_method<Lora, LoraOptions>(r, "lora", "LoRA (arXiv 2106.09685): …",
//                                        MethodBudget{500, 1, 440, 0.4, "diffusers README; DVAR README"});
//   }
//
// `M` is built as M(options, section): `section` is the user's section over the
// defaults, kept for what needs a key's file:line (layer patterns that match
// nothing, a token the tokenizer splits). A rule across fields (DyLoRA's
// eval_rank <= rank) is the options' `void check(const cfg::Node& section) const`,
// called when the section is read, so a section is checked without building M.
#include <memory>
#include <type_traits>
#include <string>

#include "framework/config/options.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/train/method.hpp"

namespace pbench {

// The range of a method's rank or bottleneck width: 1..1280. No layer of SD v1.x has
// min(in, out) above 1280 (the UNet's widest projections; the text encoder's is 768), and past
// min(in, out) a rank adds parameters, not expressiveness. A typo such as rank=100000 is then
// refused at plan time with the key's file:line, not met by a 3 GB allocation (issue 41).
inline constexpr int64_t kMaxLayerWidth = 1280;
inline cfg::Allowed layer_width() {
  return cfg::described(cfg::between(1, double(kMaxLayerWidth)),
                        "a whole number in [1, 1280] (no SD v1.x layer has min(in, out) above 1280)");
}

// The range of a count of learned prompt tokens (Textual Inversion's vectors, prompt
// tuning's soft tokens): 1..75, what a CLIP prompt holds between its start and end tokens.
inline cfg::Allowed prompt_token_count() {
  return cfg::described(cfg::between(1, 75), "a whole number in [1, 75] (a CLIP prompt holds 75 tokens)");
}

namespace detail {
template <class Options, class = void>
struct has_check : std::false_type {};
template <class Options>
struct has_check<Options, std::void_t<decltype(std::declval<const Options&>().check(std::declval<const cfg::Node&>()))>>
    : std::true_type {};
}  // namespace detail

template <class M, class Options>
void register_method(Registry<MethodEntry>& registry, const std::string& name, const std::string& help,
                     MethodBudget budget) {
  cfg::Node defaults = cfg::options_node<Options>(name);
  defaults.set_origin_recursive(cfg::Origin{"built-in defaults of method '" + name + "'", 0});
  registry.add(EntryInfo{name, help, defaults},
               MethodEntry{[defaults](const cfg::Node& user) -> MethodBuilder {
                             cfg::Node section = cfg::with_defaults(user, defaults);
                             Options options = cfg::read_options<Options>(section, "method");
                             if constexpr (detail::has_check<Options>::value) options.check(section);
                             return [options = std::move(options), section = std::move(section)] {
                               return std::make_unique<M>(options, section);
                             };
                           },
                           cfg::option_docs<Options>(), std::move(budget)});
}

}  // namespace pbench
