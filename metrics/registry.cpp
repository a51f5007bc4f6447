// The explicit table of metrics, one register_* call per line of metrics/metric_list.hpp
// (static self-registration is avoided on purpose, see ../shared/TRAPS.md).
#include "metrics/metric.hpp"

namespace pbench::metrics {

Registry<MetricEntry>& metrics_registry() {
  static Registry<MetricEntry>* registry = [] {
    auto* r = new Registry<MetricEntry>("metric");
#define PBENCH_REGISTER_METRIC(name) register_##name(*r);
    PBENCH_METRIC_LIST(PBENCH_REGISTER_METRIC)
#undef PBENCH_REGISTER_METRIC
    return r;
  }();
  return *registry;
}

}  // namespace pbench::metrics
