#pragma once
// LibTorch side of safetensors: files <-> name -> torch::Tensor maps, and
// loading such a map into a torch::nn::Module by parameter/buffer name.
// The format work itself (and its validation) is in framework/io/safetensors.
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pbench {

using TensorMap = std::map<std::string, torch::Tensor>;

// CPU tensors in the stored dtype. Throws InputError for a malformed file or
// a dtype LibTorch 1.13 lacks (U16, U32, U64, F8_*), naming file and tensor.
TensorMap load_safetensors(const std::filesystem::path& path);

// Writes contiguous CPU copies of `tensors` (any device, any layout).
void save_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct LoadOptions {
  std::vector<std::string> ignore_unexpected;  // regexes of file keys that may be skipped (e.g. "position_ids$")
  std::vector<std::string> allow_missing;      // regexes of module keys that may stay as initialized
};

// Copies by name into module->named_parameters() and named_buffers() (no grad), checking dtype/shape.
// Throws InputError listing (by name, first few + counts) every missing key, unexpected key and
// shape mismatch, naming `source` (the file).
// dtype: a floating tensor may fill a floating parameter of another precision
// (converted, as PyTorch's load_state_dict does); any other dtype difference
// (integer vs floating, bool) is reported as a mismatch. Nothing is copied
// unless every check passes.
void load_into_module(torch::nn::Module& module, const TensorMap& tensors, const std::string& source,
                      const LoadOptions& options = {});

}  // namespace pbench
