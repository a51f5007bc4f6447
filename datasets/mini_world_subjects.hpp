#pragma once
// The mini world's 30 personalization subjects: each pairs two named colours
// in one pattern on one class (red-and-white striped cube, ...). Training
// scenes never do (their patterns are two tones of one colour), so every
// subject is a composition the pretrained model has never rendered, with a
// class word ("cube") it knows. Each has 4-6 images on different backgrounds
// and poses, like a handful of photos of one object.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/mini_world_scene.hpp"

namespace pbench::mini {

struct MiniSubject {
  std::string name;      // folder name: "red_white_striped_cube"
  std::string class_noun;  // "cube"
  MiniScene look;        // shape, colour, second colour, pattern, pattern frequency
  int num_images = 5;
  uint64_t seed = 0;     // where its images' backgrounds, poses and light come from
};

const std::vector<MiniSubject>& mini_subjects();

// Image `index` of `subject`: its look on a background and pose that depend
// only on the subject and the index (never on a --seed: the subjects are a
// fixed benchmark).
MiniScene subject_scene(const MiniSubject& subject, int index);

// DreamBooth's prompt templates ({0} token, {1} class) the mini world renders:
// all 25 object prompts (every background phrase is a world background and
// red, purple, shiny, wet and cube shaped are world attributes); of the live
// prompts, the 10 backgrounds and the 5 attributes (the hats, outfits, glasses
// and shirt are not drawn). Mini subjects are objects, so only the object list is used.
const std::vector<std::string>& mini_object_prompts();
const std::vector<std::string>& mini_live_prompts();

}  // namespace pbench::mini
