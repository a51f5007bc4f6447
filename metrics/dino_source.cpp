// DINO to the source: per generated image, the cosine of its DINO CLS embedding with its source
// image's (an edit's structure preservation). Raw cosine.
#include "metrics/metric.hpp"
#include "metrics/similarity.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_dino_source(MetricInputs& in) {
  return result_of(paired_cosine(in.dino_generated(), in.dino_source(), "dino_source"));
}

}  // namespace

void register_dino_source(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"dino_source", "DINO of each image to its source image (an edit's structure preservation)",
                         cfg::Node::map()},
               MetricEntry{"dino", compute_dino_source, {"generated", "source"}, /*real_baseline=*/false});
}

}  // namespace pbench::metrics
