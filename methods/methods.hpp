#pragma once
// One register function per method file, declared from methods/method_list.hpp;
// methods/all_methods.cpp calls them all.
#include "framework/train/method.hpp"
#include "methods/method_list.hpp"

namespace pbench {
void register_all_methods(Registry<MethodEntry>& registry);
}  // namespace pbench

#define PBENCH_DECLARE_METHOD_REGISTRAR(ns, name) \
  namespace ns {                                  \
  void register_##name(Registry<MethodEntry>& registry); \
  }
PBENCH_METHOD_LIST(PBENCH_DECLARE_METHOD_REGISTRAR)
#undef PBENCH_DECLARE_METHOD_REGISTRAR
