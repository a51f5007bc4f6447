#pragma once
// Seeded, machine-independent initialisation for the builtin models
// (builtin:tiny, builtin:tiny-clip, builtin:tiny-dino): every parameter is
// drawn from one CPU torch::Generator in module-tree order, with uniform
// draws only (the CPU uniform kernel is serial and exact; the vectorised
// normal kernel may differ between CPUs in the last bits). So the weights are
// identical on every machine and at every thread count.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace pbench::models {

// Overwrites every parameter of `root`, which must all belong to adaptable
// layers (anything else is an error naming it, so nothing stays at LibTorch's
// global-RNG init):
//   linear / conv2d weight  U(-a, a), a = sqrt(3 / fan_in)   (variance 1 / fan_in)
//   linear / conv2d bias    U(-b, b), b = 1 / sqrt(fan_in)   (PyTorch's default range)
//   group / layer norm      weight 1, bias 0
//   ViT patch convolution   as conv2d
//   embedding               U(-c, c), c = 0.02 * sqrt(3)    (std 0.02, as CLIP/ViT inits)
//   class token, position table (free ViT tensors): as embedding
// `what` names the model in errors. Parameters must be on the CPU.
void deterministic_init(torch::nn::Module& root, uint64_t seed, const std::string& what);

}  // namespace pbench::models
