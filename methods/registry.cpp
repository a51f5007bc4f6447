// The explicit table of methods: one register_* call per file in methods/
// (static self-registration is avoided on purpose, see ARCHITECTURE.md).
#include "framework/train/method.hpp"
#include "methods/methods.hpp"

namespace pbench {

Registry<MethodEntry>& methods() {
  static Registry<MethodEntry>* registry = [] {
    auto* r = new Registry<MethodEntry>("method");
    register_all_methods(*r);
    return r;
  }();
  return *registry;
}

}  // namespace pbench
