#pragma once
// One register function per method file; methods/all_methods.cpp calls them all.
#include "framework/train/method.hpp"

namespace pbench {
void register_all_methods(Registry<MethodEntry>& registry);

void register_textual_inversion(Registry<MethodEntry>& registry);
void register_dreambooth(Registry<MethodEntry>& registry);
}  // namespace pbench
