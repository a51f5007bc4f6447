#include "framework/workloads/invert/config.hpp"

#include "framework/models/sd/pipeline.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/invert/source_image.hpp"
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
  check_source_image(resolved, "invert", options.invert.image);
}

}  // namespace pbench::invert
