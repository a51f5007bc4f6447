#pragma once
// `pbench parity` entries for the CLIP text tower, the CLIP vision tower
// (with its image preprocessing) and the DINO ViT (with its normalisation).
#include "framework/models/parity/parity.hpp"

namespace pbench::models {

parity::Component clip_text_parity_component();
parity::Component clip_vision_parity_component();
parity::Component dino_vit_parity_component();

}  // namespace pbench::models
