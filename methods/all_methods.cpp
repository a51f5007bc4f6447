// Every method of this build: the registrars of methods/method_list.hpp.
#include "methods/methods.hpp"

namespace pbench {

void register_all_methods(Registry<MethodEntry>& registry) {
#define PBENCH_CALL_METHOD_REGISTRAR(ns, name) ::ns::register_##name(registry);
  PBENCH_METHOD_LIST(PBENCH_CALL_METHOD_REGISTRAR)
#undef PBENCH_CALL_METHOD_REGISTRAR
}

}  // namespace pbench
