#pragma once
// The sections every workload that loads a Stable Diffusion pipeline reads the
// same way: `model` (which pipeline) and the top-level `device` and `dtype`.
// Declared once here so personalize, invert and the next workloads share the
// keys, their defaults and their checks.
#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <string>

#include "framework/config/node.hpp"
#include "framework/config/options.hpp"

namespace pbench {

struct ModelOptions {
  std::string name = "builtin:tiny";
  std::optional<std::string> path;  // a diffusers folder; takes precedence over name
  // What load_pipeline takes: the path when set, else the name.
  const std::string& spec() const { return path ? *path : name; }
  template <class V>
  void fields(V& v) {
    v("name", name, "a built-in pipeline (builtin:tiny, builtin:mini; run_sweep --list)");
    v("path", path, "a diffusers folder (model_index.json); null = model.name");
  }
};

// Where a run computes, and in which precision (the top-level `device` and `dtype`).
enum class Device { cpu, cuda };
inline const cfg::EnumNames<Device>& enum_names(Device) {
  static const cfg::EnumNames<Device> names{{Device::cpu, "cpu"}, {Device::cuda, "cuda"}};
  return names;
}
enum class Dtype { fp32, bf16, fp16 };
inline const cfg::EnumNames<Dtype>& enum_names(Dtype) {
  static const cfg::EnumNames<Dtype> names{{Dtype::fp32, "fp32"}, {Dtype::bf16, "bf16"}, {Dtype::fp16, "fp16"}};
  return names;
}

// The run's cache folder: runtime.cache_dir, else the default (framework/io/image_cache.hpp).
std::filesystem::path run_cache_dir(const cfg::Node& resolved);

// "<file:line>: <key>" of a key of the resolved config, or of the config itself when it is absent.
std::string where_is(const cfg::Node& resolved, const std::string& key);

// What no machine could run (fp16 on CPU): InputError at `resolved`'s dtype key, refused at
// plan time, unlike a missing CUDA device (the planning machine of a Slurm sweep may have no GPU).
void check_dtype_on_device(Device device, Dtype dtype, const cfg::Node& resolved);

// `device` and `dtype` as LibTorch options; InputError (at the key of `resolved`) when this
// LibTorch build cannot run them.
torch::TensorOptions pipeline_tensor_options(Device device, Dtype dtype, const cfg::Node& resolved);

}  // namespace pbench
