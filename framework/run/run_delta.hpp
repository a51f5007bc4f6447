#pragma once
// A run's learned delta as the delta commands read it (export-delta, merge-delta): the run file's
// resolved config, the <run>.delta.safetensors beside it, and a bare delta's metadata.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "framework/config/node.hpp"
#include "framework/tensor/delta_formats.hpp"

namespace pbench {

// /config/resolved of a run file (<id>.h5).
cfg::Node run_resolved_config(const std::filesystem::path& run);
// <id>.delta.safetensors beside the run file; InputError when the run kept none.
std::filesystem::path run_delta_file(const std::filesystem::path& run);
// The metadata of a .safetensors file (a delta's "method", "run_id", ...).
std::map<std::string, std::string> delta_file_metadata(const std::filesystem::path& delta);

// A delta as the delta commands take it (export-delta, merge-delta, merge): a run file, with its
// <run>.delta.safetensors beside it and its resolved config, or a bare .safetensors and its metadata.
struct DeltaInput {
  std::filesystem::path delta;
  std::string method;                           // the run's method.name or the file's "method"; "" = unrecorded
  std::optional<cfg::Node> resolved;            // a run file's /config/resolved
  std::map<std::string, std::string> metadata;  // a bare delta's
};
DeltaInput read_delta_input(const std::filesystem::path& input);
// What the base model `spec`'s UNet tells the formats that depend on it (docs/interop.md): each
// conv's kernel (kohya's LoRA layout), the cross-attention layers and layers_per_block (P+'s XTI
// block names). Shapes only: no weights are read.
void describe_base_unet(interop::DeltaInfo& info, const std::string& spec);

}  // namespace pbench
