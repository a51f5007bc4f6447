// The explicit table of metrics: one register_* call per file in metrics/
// (static self-registration is avoided on purpose, see ../shared/TRAPS.md).
#include "metrics/metric.hpp"

namespace pbench::metrics {

Registry<MetricEntry>& metrics_registry() {
  static Registry<MetricEntry>* registry = [] {
    auto* r = new Registry<MetricEntry>("metric");
    register_clip_i(*r);
    register_clip_t(*r);
    register_dino(*r);
    return r;
  }();
  return *registry;
}

}  // namespace pbench::metrics
