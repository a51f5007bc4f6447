// Every method of this build, in one list. Add a line when adding methods/<name>.cpp.
#include "methods/methods.hpp"

namespace pbench {

void register_all_methods(Registry<MethodEntry>& registry) {
  register_dreambooth(registry);
  register_textual_inversion(registry);
}

}  // namespace pbench
