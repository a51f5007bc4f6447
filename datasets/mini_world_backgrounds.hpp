#pragma once
// The mini world's backgrounds: each DreamBooth context ("on the beach", "with
// a city in the background", ...) painted procedurally as a function of the
// image point, varied per scene by its texture seed (colour jitter, where the
// features sit). Everything is a pure function of the scene.
#include <cstdint>

#include "datasets/mini_world_scene.hpp"

namespace pbench::mini {

class BackgroundPainter {
 public:
  explicit BackgroundPainter(const MiniScene& scene);
  // Colour at image point (x, y) in [0, 1]² (y down), without the object or its shadow.
  Rgb at(double x, double y) const;
  // Where the ground (or the water surface) begins, as a fraction of the height.
  double horizon() const { return horizon_; }

 private:
  Background kind_;
  uint32_t seed_;
  double horizon_, feature_x_, shift_, exposure_;
  Rgb tint_;
};

// Value noise in [0, 1), smooth between integer lattice points; seeded.
double value_noise(double x, double y, uint32_t seed);
// A hash of a lattice cell in [0, 1).
double cell_hash(int64_t x, int64_t y, uint32_t seed);

}  // namespace pbench::mini
