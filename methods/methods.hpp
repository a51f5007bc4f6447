#pragma once
// One register function per method file; methods/all_methods.cpp calls them all.
#include "framework/train/method.hpp"

namespace pbench {
void register_all_methods(Registry<MethodEntry>& registry);

void register_textual_inversion(Registry<MethodEntry>& registry);
void register_dreambooth(Registry<MethodEntry>& registry);
void register_prompt_tuning(Registry<MethodEntry>& registry);
void register_p_plus(Registry<MethodEntry>& registry);
}  // namespace pbench

namespace pbench::peft {
void register_lora(Registry<MethodEntry>& registry);
void register_svdiff(Registry<MethodEntry>& registry);
void register_ia3(Registry<MethodEntry>& registry);
void register_loha(Registry<MethodEntry>& registry);
void register_lokr(Registry<MethodEntry>& registry);
void register_difffit(Registry<MethodEntry>& registry);
void register_dylora(Registry<MethodEntry>& registry);
void register_custom_diffusion(Registry<MethodEntry>& registry);
void register_houlsby_adapter(Registry<MethodEntry>& registry);
void register_closer_look_adapter(Registry<MethodEntry>& registry);
void register_prefix_tuning(Registry<MethodEntry>& registry);
}  // namespace pbench::peft
