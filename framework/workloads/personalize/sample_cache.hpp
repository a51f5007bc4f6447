#pragma once
// Images the frozen pipeline sampled, cached between runs as lossless PNGs (a
// cached set scores exactly as a fresh one): <dir>/<i>.png, then <dir>/done.
// The set is written to a private folder and renamed into place, so a
// concurrent run of a sweep either finds the whole set or samples its own
// (identical: samples are seeded). DreamBooth's class images (setup.cpp) and the
// do-nothing baseline (baseline.cpp) are cached this way; each keys `dir` by
// everything its samples depend on.
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>

namespace pbench::personalize {

// The `count` cached images of `dir` as uint8 [count, H, W, 3], or else the ones
// `sample` returns, cached. `what` names them in the log ("class-word samples").
torch::Tensor cached_samples(const std::filesystem::path& dir, int64_t count,
                             const std::function<torch::Tensor()>& sample, const std::string& what,
                             std::ostream& log);

}  // namespace pbench::personalize
