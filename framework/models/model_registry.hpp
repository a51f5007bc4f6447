#pragma once
// The models `run_sweep --list` shows and a run config may name: the builtin
// pipeline and metric backbones. Any other model is given as a path to a
// diffusers pipeline folder or a Hugging Face folder (not registered: the
// loaders accept it directly).
#include <functional>
#include <string>

#include "framework/registry/registry.hpp"

namespace pbench::models {

enum class ModelKind { kPipeline, kClipBackbone, kDinoBackbone };

struct ModelEntry {
  ModelKind kind;
};

// builtin:tiny, builtin:tiny-clip, builtin:tiny-dino.
Registry<ModelEntry>& models_registry();

}  // namespace pbench::models
