#pragma once
// A mini-world scene: what is drawn (class, colour, pattern, background,
// attributes) and how (pose, light). Sampling is a pure function of a seed,
// captions a pure function of the scene, and rendering (mini_world_render.hpp)
// a pure function of (scene, resolution): the same bytes on every machine.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/mini_world_vocabulary.hpp"

namespace pbench::mini {

struct MiniScene {
  Shape shape = Shape::cube;
  Colour colour = Colour::red;
  Pattern pattern = Pattern::plain;
  Background background = Background::beach;
  // A second named colour for the pattern: personalization subjects only
  // (training patterns use pattern_tone(colour)).
  std::optional<Colour> second_colour;
  // DreamBooth's attribute prompts: "a shiny ...", "a wet ...", "a cube shaped ...".
  bool shiny = false, wet = false, cube_shaped = false;
  // Which words the caption names; the rest the model has to leave open, as it
  // must for "a sks cube" or "a red sks cube".
  bool says_colour = true, says_pattern = true, says_background = true;
  // Pose: centre and half-size as fractions of the image side, rotation about
  // the vertical axis (yaw) and in the picture plane (tilt), radians.
  double x = 0.5, y = 0.55, size = 0.22, yaw = 0.6, tilt = 0.0;
  // Light: direction (azimuth from the camera axis, elevation), strength, ambient.
  double light_azimuth = -0.7, light_elevation = 0.8, light_strength = 0.8, ambient = 0.35;
  double pattern_frequency = 3.0;  // stripes / checks / dots per object unit
  uint32_t texture_seed = 0;       // background details and their colour jitter
};

// "a shiny red striped cube on the beach" ("an" before a vowel; plain is not written).
std::string caption(const MiniScene& scene);

// The evaluation split: a (class, colour, background) combination is held out
// when (shape + 3·colour + 7·background) mod 11 == 0 (enum indices). Every
// class, colour, background and every pair of them still occurs in training;
// only these triples never do (181 of 2000).
bool is_held_out(Shape shape, Colour colour, Background background);
struct Combination {
  Shape shape;
  Colour colour;
  Background background;
};
const std::vector<Combination>& held_out_combinations();

// True for scenes the training distribution can produce: one colour, not a held-out triple.
bool in_training_distribution(const MiniScene& scene);

// Training scenes never show a held-out triple; held-out scenes show only those.
MiniScene sample_training_scene(uint64_t seed);
MiniScene sample_held_out_scene(uint64_t seed);

// The seed of item `index` of a set written with `seed` (splitmix64 of both).
uint64_t item_seed(uint64_t seed, uint64_t index);

// splitmix64 (Steele et al. 2014): a tiny generator whose output is the same
// everywhere; std:: distributions are not, across standard libraries.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform(double lo, double hi);  // [lo, hi)
  int below(int n);                      // [0, n)
  bool chance(double p);

 private:
  uint64_t state_;
};

}  // namespace pbench::mini
