#include "framework/workloads/invert/config.hpp"

#include <filesystem>

#include "framework/models/sd/pipeline.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/section_checks.hpp"

namespace pbench::invert {

InvertOptions read_options(const cfg::Node& resolved) { return cfg::read_declared_options<InvertOptions>(resolved); }

const cfg::Node& invert_defaults() {
  static const cfg::Node defaults = workload_defaults<InvertOptions>("invert");
  return defaults;
}

void check_config(const cfg::Node& resolved) {
  const InvertOptions options = read_options(resolved);
  check_dtype_on_device(options.device, options.dtype, resolved);
  check_metric_inputs(resolved, "invert.metrics", options.invert.metrics, {"generated", "source"}, "invert");
  models::check_pipeline_spec(options.model.spec());
  if (options.invert.image) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*options.invert.image, ec))
      throw InputError(where_is(resolved, "invert.image") + ": " + *options.invert.image +
                       ": no such image file (give a PNG or JPEG path, or null to use dataset.subject's image)");
    return;
  }
  if (!resolved.find("dataset"))
    throw InputError(where_is(resolved, "invert.image") +
                     ": null, and the config has no dataset section to take the image from; set invert.image to a "
                     "file, or add dataset: {name: mini, subject: <name>}");
  check_dataset_subject(resolved);
}

}  // namespace pbench::invert
