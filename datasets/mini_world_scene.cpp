#include "datasets/mini_world_scene.hpp"

namespace pbench::mini {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }

// Multiply-shift instead of modulo: no bias worth mentioning and no division.
int SplitMix64::below(int n) { return int(((next() >> 32) * uint64_t(n)) >> 32); }

bool SplitMix64::chance(double p) { return uniform(0, 1) < p; }

uint64_t item_seed(uint64_t seed, uint64_t index) {
  SplitMix64 a(seed ^ (index * 0xd1342543de82ef95ULL));
  a.next();
  return a.next();
}

std::string caption(const MiniScene& s) {
  std::vector<std::string> words;
  if (s.shiny) words.push_back("shiny");
  if (s.wet) words.push_back("wet");
  if (s.cube_shaped) words.insert(words.end(), {"cube", "shaped"});
  if (s.says_colour) words.push_back(colour_word(s.colour));
  if (s.says_pattern && s.pattern != Pattern::plain) words.push_back(pattern_word(s.pattern));
  words.push_back(shape_word(s.shape));
  const char first = words.front().front();
  std::string text = (first == 'a' || first == 'e' || first == 'i' || first == 'o' || first == 'u') ? "an" : "a";
  for (const auto& w : words) text += " " + w;
  if (s.says_background) text += " " + background_phrase(s.background);
  return text;
}

bool is_held_out(Shape shape, Colour colour, Background background) {
  return (int(shape) + 3 * int(colour) + 7 * int(background)) % 11 == 0;
}

const std::vector<Combination>& held_out_combinations() {
  static const std::vector<Combination> all = [] {
    std::vector<Combination> out;
    for (int s = 0; s < kShapes; ++s)
      for (int c = 0; c < kColours; ++c)
        for (int b = 0; b < kBackgrounds; ++b)
          if (is_held_out(Shape(s), Colour(c), Background(b))) out.push_back({Shape(s), Colour(c), Background(b)});
    return out;
  }();
  return all;
}

bool in_training_distribution(const MiniScene& s) {
  return !s.second_colour && !is_held_out(s.shape, s.colour, s.background);
}

namespace {

// Everything but the (class, colour, background) triple, which the caller picks.
void sample_look(MiniScene& s, SplitMix64& rng) {
  double p = rng.uniform(0, 1);
  s.pattern = p < 0.4 ? Pattern::plain : p < 0.6 ? Pattern::striped : p < 0.8 ? Pattern::dotted : Pattern::checkered;
  s.pattern_frequency = rng.uniform(2.4, 4.0);
  s.shiny = rng.chance(0.15);
  s.wet = rng.chance(0.1);
  s.cube_shaped = s.shape != Shape::cube && rng.chance(0.06);
  s.says_colour = rng.chance(0.85);
  s.says_pattern = rng.chance(0.85);
  s.says_background = rng.chance(0.85);
  s.size = rng.uniform(0.2, 0.3);
  s.x = rng.uniform(0.32, 0.68);
  // The object stands on the ground: its base (about 0.85 half-sizes below the
  // centre) lands between the horizon band and the bottom edge.
  s.y = rng.uniform(0.62, 0.93) - 0.85 * s.size;
  s.yaw = rng.uniform(-1.2, 1.2);
  s.tilt = rng.uniform(-0.2, 0.2);
  s.light_azimuth = rng.uniform(-1.3, 1.3);
  s.light_elevation = rng.uniform(0.5, 1.2);
  s.light_strength = rng.uniform(0.55, 0.85);
  s.ambient = rng.uniform(0.38, 0.52);
  s.texture_seed = uint32_t(rng.next() >> 32);
}

}  // namespace

MiniScene sample_training_scene(uint64_t seed) {
  SplitMix64 rng(seed);
  MiniScene s;
  do {  // rejection keeps the remaining triples uniform
    s.shape = Shape(rng.below(kShapes));
    s.colour = Colour(rng.below(kColours));
    s.background = Background(rng.below(kBackgrounds));
  } while (is_held_out(s.shape, s.colour, s.background));
  sample_look(s, rng);
  return s;
}

MiniScene sample_held_out_scene(uint64_t seed) {
  SplitMix64 rng(seed);
  const auto& combos = held_out_combinations();
  const Combination& c = combos[size_t(rng.below(int(combos.size())))];
  MiniScene s;
  s.shape = c.shape;
  s.colour = c.colour;
  s.background = c.background;
  sample_look(s, rng);
  // Evaluation captions name the whole triple: that is what is being tested.
  s.says_colour = s.says_background = true;
  return s;
}

}  // namespace pbench::mini
