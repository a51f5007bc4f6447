#pragma once
// The `compose` workload (issue 17's multi-concept composition): two or more personalize runs of
// one method, each a concept, merged by the method's own rule (Method::merge_deltas: LoRA's
// weighted sum, Perfusion's concepts side by side, Cones' union, Custom Diffusion's constrained
// least squares on the base model's text features) and applied at once; prompts that
// name every concept are sampled, and the images are scored against each concept's subject:
// /metrics/subject_<k> (CLIP-I / DINO against run k's real images, CLIP-T to the prompt) and
// /metrics/final (per image, the mean over the concepts).
#include "framework/run/workload.hpp"

namespace pbench {
void register_compose_workload(Registry<Workload>& registry);
}  // namespace pbench
