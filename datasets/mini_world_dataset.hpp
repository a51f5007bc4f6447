#pragma once
// Dataset `mini_world`: the mini world's 30 subjects (mini_world_subjects.hpp)
// rendered on the fly at the model's resolution — nothing is read or written,
// the renders are a pure function of the subject. The default dataset, with
// builtin:mini, the pipeline pretrained on the same world.
#include "datasets/dataset.hpp"

namespace pbench {

void register_mini_world_dataset(Registry<DatasetEntry>& registry);

}  // namespace pbench
