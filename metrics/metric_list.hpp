#pragma once
// Every metric of this build, one line each: X(name), where metrics/<name>.cpp
// defines `void pbench::metrics::register_<name>(Registry<MetricEntry>&)`. Adding a
// metric is its file, its test and one line here: the declarations (metric.hpp) and
// the registry (registry.cpp) are made from this list; the run file writes
// /metrics/<point>/<name> for every metric that ran and make_table tabulates any
// metric it finds. Explicit, not static self-registration (TRAPS.md).
#define PBENCH_METRIC_LIST(X) \
  X(clip_i)                   \
  X(clip_t)                   \
  X(dino)                     \
  X(psnr)                     \
  X(ssim)                     \
  X(clip_i_source)            \
  X(dino_source)              \
  X(background_psnr)
