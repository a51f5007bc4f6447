#pragma once
// The mini world's rasteriser: a scene drawn as an RGB image, a pure function
// of (scene, resolution) in plain double arithmetic (no threads, no library
// noise), so the same scene gives the same bytes on every machine. The object
// is ray-marched against its class's distance function (mini_world_shapes.hpp)
// under an orthographic camera looking slightly down, lit by one directional
// light plus ambient; it casts a soft shadow, is reflected by mirror and water
// and floats half-submerged in water and milk. 2x2 supersampling per pixel.
#include <vector>

#include "datasets/mini_world_scene.hpp"
#include "framework/io/image.hpp"

namespace pbench::mini {

// `object_coverage`, when given, receives resolution² values in [0, 1]: the
// fraction of each pixel showing the object above any water line.
Image render_scene(const MiniScene& scene, int resolution, std::vector<float>* object_coverage = nullptr);

}  // namespace pbench::mini
