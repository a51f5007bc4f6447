// DINO: per generated image, the mean cosine of its DINO CLS feature (after
// the final LayerNorm; never a pooler) with every real image's; the metric is
// the mean over all (generated, real) pairs. Baseline: real vs real, i != j.
#include "metrics/metric.hpp"
#include "metrics/similarity.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_dino(MetricInputs& in) {
  return result_of(mean_cosine_to_reals(in.dino_generated(), in.dino_real(), "dino"),
                   mean_cosine_between_distinct(in.dino_real(), "dino"));
}

}  // namespace

void register_dino(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"dino", "DINO: mean cosine over all (generated, real) pairs of DINO ViT CLS features", cfg::Node::map()},
               MetricEntry{"dino", compute_dino, {"generated", "real"}, /*real_baseline=*/true});
}

}  // namespace pbench::metrics
