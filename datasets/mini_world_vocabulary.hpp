#pragma once
// The words of the mini world (docs/mini_world.md): object classes (shape
// families), colours, surface patterns and backgrounds. Background phrases are
// DreamBooth's own prompt endings (google/dreambooth prompts_and_classes.txt),
// so a pretraining caption "a red cube on the beach" and an evaluation prompt
// "a sks cube on the beach" share every word but the token.
// Enum order is part of the held-out rule and the subject table: append only.
#include <array>
#include <string>

namespace pbench::mini {

enum class Shape { cube, ball, cone, cylinder, ring, star, pyramid, capsule, heart, cross };
enum class Colour { red, orange, yellow, green, blue, purple, pink, brown, white, black };
// Training renders patterns in two tones of one colour; personalization subjects
// pair two named colours (the two-tone compositions training never shows).
enum class Pattern { plain, striped, dotted, checkered };
enum class Background {
  jungle, snow, beach, cobblestone, pink_fabric, wooden_floor, city, mountain, blue_house, purple_rug,
  wheat_field, autumn_tree, eiffel_tower, water, milk, sunflowers, mirror, sidewalk, dirt_road, white_rug
};

constexpr int kShapes = 10, kColours = 10, kPatterns = 4, kBackgrounds = 20;

struct Rgb {
  double r = 0, g = 0, b = 0;
};

const std::string& shape_word(Shape s);           // "cube", "ball", ... (the class noun)
const std::string& colour_word(Colour c);         // "red", ...
const std::string& pattern_word(Pattern p);       // "plain", "striped", ... ("plain" is never written in captions)
const std::string& background_name(Background b); // "beach" (identifier, folder-safe)
const std::string& background_phrase(Background b);  // "on the beach" (DreamBooth's prompt ending)

Rgb colour_rgb(Colour c);  // sRGB in [0, 1]
// The second tone of a one-colour pattern: a darker shade (a lighter one for black).
Rgb pattern_tone(Colour c);

// Floating backgrounds hide the object's lower part under the surface; mirror
// and water show its reflection.
bool is_floating(Background b);
bool is_reflective(Background b);

}  // namespace pbench::mini
