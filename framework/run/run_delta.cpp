#include "framework/run/run_delta.hpp"

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/io/safetensors.hpp"
#include "framework/models/sd/unet_structure.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"

namespace fs = std::filesystem;

namespace pbench {

cfg::Node run_resolved_config(const fs::path& run) {
  h5::Handle f = h5::open_file(run.string(), false);
  h5::Handle config = h5::open_group(f.id(), "config");
  return cfg::parse_yaml_text(h5::read_string(config.id(), "resolved"), {run.string() + ":/config/resolved", 0});
}

fs::path run_delta_file(const fs::path& run) {
  fs::path delta = run;
  delta.replace_extension("");
  delta += ".delta.safetensors";
  if (!fs::exists(delta))
    throw InputError(run.string() + ": no " + delta.filename().string() +
                     " beside it (the run kept no delta: train.save_delta was false)");
  return delta;
}

std::map<std::string, std::string> delta_file_metadata(const fs::path& delta) {
  return safetensors::File::read(delta).metadata();
}

DeltaInput read_delta_input(const fs::path& input) {
  DeltaInput in;
  if (input.extension() == ".h5") {
    in.resolved = run_resolved_config(input);
    in.method = cfg::get_string(*in.resolved, "method.name");
    in.delta = run_delta_file(input);
    return in;
  }
  in.delta = input;
  in.metadata = delta_file_metadata(input);
  if (auto it = in.metadata.find("method"); it != in.metadata.end()) in.method = it->second;
  return in;
}

void describe_base_unet(interop::DeltaInfo& info, const std::string& spec) {
  models::UNet2DCondition unet = models::unet_structure(spec);
  for (const auto& item : unet->named_parameters())
    if (item.value().dim() == 4 && ends_with(item.key(), ".weight"))
      info.conv_kernels["unet." + item.key().substr(0, item.key().size() - 7)] = {item.value().size(2), item.value().size(3)};
  info.cross_attention_layers = unet->cross_attention_layers();
  info.layers_per_block = unet->config().layers_per_block;
}

}  // namespace pbench
