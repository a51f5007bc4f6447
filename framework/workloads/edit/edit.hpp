#pragma once
// The `edit` workload: Prompt-to-Prompt editing (arXiv 2208.01626) of a real
// image through NULL-text inversion (or DDIM inversion), or of a generated
// image; the edit scored by CLIP-T to the edit prompt and by its similarity to
// the source image, beside the unedited branch scored the same way.
// `pbench edit` runs it on one image; sweeps run it like any workload.
#include "framework/run/workload.hpp"

namespace pbench {
void register_edit_workload(Registry<Workload>& registry);
}  // namespace pbench
