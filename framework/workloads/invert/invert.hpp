#pragma once
// The `invert` workload: a real image inverted into the model's noise and
// reconstructed from it (framework/sample/ddim_inversion.hpp,
// null_text_inversion.hpp), with the reconstruction scored against the input
// (psnr, ssim) and the per-step state kept in the run file (/inversion).
// `pbench invert` runs it on one image; sweeps run it like any workload.
#include "framework/run/workload.hpp"

namespace pbench {
void register_invert_workload(Registry<Workload>& registry);
}  // namespace pbench
