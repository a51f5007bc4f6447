// Every method of this build, in one list. Add a line when adding methods/<name>.cpp.
#include "methods/methods.hpp"

namespace pbench {

void register_all_methods(Registry<MethodEntry>& registry) {
  register_dreambooth(registry);
  register_textual_inversion(registry);
  peft::register_lora(registry);
  peft::register_svdiff(registry);
  peft::register_ia3(registry);
  peft::register_loha(registry);
  peft::register_lokr(registry);
  peft::register_difffit(registry);
  peft::register_dylora(registry);
  peft::register_custom_diffusion(registry);
  peft::register_houlsby_adapter(registry);
  peft::register_closer_look_adapter(registry);
  register_prompt_tuning(registry);
  peft::register_prefix_tuning(registry);
  register_p_plus(registry);
}

}  // namespace pbench
