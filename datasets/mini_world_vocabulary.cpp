#include "datasets/mini_world_vocabulary.hpp"

namespace pbench::mini {
namespace {

template <size_t N>
const std::string& word_at(const std::array<std::string, N>& words, int index) {
  return words.at(size_t(index));
}

}  // namespace

const std::string& shape_word(Shape s) {
  static const std::array<std::string, kShapes> words = {"cube", "ball",    "cone",    "cylinder", "ring",
                                                         "star", "pyramid", "capsule", "heart",    "cross"};
  return word_at(words, int(s));
}

const std::string& colour_word(Colour c) {
  static const std::array<std::string, kColours> words = {"red",    "orange", "yellow", "green", "blue",
                                                          "purple", "pink",   "brown",  "white", "black"};
  return word_at(words, int(c));
}

const std::string& pattern_word(Pattern p) {
  static const std::array<std::string, kPatterns> words = {"plain", "striped", "dotted", "checkered"};
  return word_at(words, int(p));
}

const std::string& background_name(Background b) {
  static const std::array<std::string, kBackgrounds> words = {
      "jungle",      "snow",        "beach",        "cobblestone", "pink_fabric", "wooden_floor", "city",
      "mountain",    "blue_house",  "purple_rug",   "wheat_field", "autumn_tree", "eiffel_tower", "water",
      "milk",        "sunflowers",  "mirror",       "sidewalk",    "dirt_road",   "white_rug"};
  return word_at(words, int(b));
}

const std::string& background_phrase(Background b) {
  static const std::array<std::string, kBackgrounds> phrases = {
      "in the jungle",
      "in the snow",
      "on the beach",
      "on a cobblestone street",
      "on top of pink fabric",
      "on top of a wooden floor",
      "with a city in the background",
      "with a mountain in the background",
      "with a blue house in the background",
      "on top of a purple rug in a forest",
      "with a wheat field in the background",
      "with a tree and autumn leaves in the background",
      "with the Eiffel Tower in the background",
      "floating on top of water",
      "floating in an ocean of milk",
      "on top of green grass with sunflowers around it",
      "on top of a mirror",
      "on top of the sidewalk in a crowded street",
      "on top of a dirt road",
      "on top of a white rug"};
  return word_at(phrases, int(b));
}

Rgb colour_rgb(Colour c) {
  static const std::array<Rgb, kColours> rgb = {{{0.86, 0.10, 0.10},
                                                 {0.96, 0.50, 0.06},
                                                 {0.96, 0.86, 0.10},
                                                 {0.14, 0.66, 0.20},
                                                 {0.12, 0.30, 0.88},
                                                 {0.52, 0.14, 0.72},
                                                 {0.98, 0.48, 0.70},
                                                 {0.50, 0.29, 0.13},
                                                 {0.94, 0.94, 0.94},
                                                 {0.07, 0.07, 0.07}}};
  return rgb.at(size_t(c));
}

Rgb pattern_tone(Colour c) {
  Rgb base = colour_rgb(c);
  double luma = 0.299 * base.r + 0.587 * base.g + 0.114 * base.b;
  // Mixing towards black (or, for black itself, towards white) keeps the hue, so a
  // striped red cube still reads as red and a brown one stays darker than an orange one.
  double target = luma < 0.15 ? 1.0 : 0.0, t = luma < 0.15 ? 0.45 : 0.35;
  return {base.r + (target - base.r) * t, base.g + (target - base.g) * t, base.b + (target - base.b) * t};
}

bool is_floating(Background b) { return b == Background::water || b == Background::milk; }
bool is_reflective(Background b) { return b == Background::water || b == Background::mirror; }

}  // namespace pbench::mini
