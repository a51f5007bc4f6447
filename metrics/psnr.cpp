// PSNR of each generated image to its source image (inversion's reconstruction
// to the input; metrics/image_fidelity.hpp): 10·log10(255²/MSE) on uint8 RGB.
#include "metrics/image_fidelity.hpp"
#include "metrics/metric.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_psnr(MetricInputs& in) {
  return result_of(per_source_pair(in, psnr_u8));
}

}  // namespace

void register_psnr(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"psnr", "PSNR (dB) of each image to its source image (reconstruction fidelity; +inf if equal)",
                         cfg::Node::map()},
               MetricEntry{"", compute_psnr, {"generated", "source"}, /*real_baseline=*/false});
}

}  // namespace pbench::metrics
