// Precompiled header for every translation unit that uses LibTorch.
// <torch/torch.h> costs ~25 s per TU on the 2-core reference machine; the PCH
// pays it once. Keep project headers out of here: they change too often.
#pragma once
#include <torch/torch.h>
