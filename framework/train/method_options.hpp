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
// nothing, a token the tokenizer splits).
#include <memory>
#include <string>

#include "framework/config/options.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/train/method.hpp"

namespace pbench {

template <class M, class Options>
void register_method(Registry<MethodEntry>& registry, const std::string& name, const std::string& help,
                     MethodBudget budget) {
  cfg::Node defaults = cfg::options_node<Options>(name);
  defaults.set_origin_recursive(cfg::Origin{"built-in defaults of method '" + name + "'", 0});
  registry.add(EntryInfo{name, help, defaults},
               MethodEntry{[defaults](const cfg::Node& user) -> std::unique_ptr<Method> {
                             cfg::Node section = cfg::with_defaults(user, defaults);
                             Options options = cfg::read_options<Options>(section, "method");
                             return std::make_unique<M>(options, section);
                           },
                           cfg::option_docs<Options>(), std::move(budget)});
}

}  // namespace pbench
