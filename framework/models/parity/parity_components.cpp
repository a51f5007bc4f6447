// The table of components `pbench parity` knows. One entry per component;
// each entry's loader lives next to the component's implementation.
#include "framework/models/parity/parity.hpp"
#include "framework/models/parity/scheduler_parity.hpp"
#include "framework/models/parity/encoder_parity.hpp"
#include "framework/models/parity/tokenizer_parity_component.hpp"
#include "framework/models/parity/unet_vae_parity.hpp"

namespace pbench::parity {

const std::vector<Component>& parity_components() {
  static const std::vector<Component> table = {
      clip_tokenizer_parity_component(),
      models::clip_text_parity_component(),
      models::clip_vision_parity_component(),
      models::dino_vit_parity_component(),
      schedulers_parity_component(),
      unet_parity_component(),
      vae_parity_component(),
  };
  return table;
}

}  // namespace pbench::parity
