#include "datasets/mini_world_subjects.hpp"

#include <algorithm>

#include "datasets/builtin_subjects.hpp"

namespace pbench::mini {
namespace {

struct SubjectSpec {
  Colour colour, second;
  Pattern pattern;
  Shape shape;
};

// Every class three times, every pattern ten times; colour pairs chosen for
// contrast, so the second colour is visible at 64 pixels.
constexpr SubjectSpec kSubjects[] = {
    {Colour::red, Colour::white, Pattern::striped, Shape::cube},
    {Colour::blue, Colour::yellow, Pattern::striped, Shape::ball},
    {Colour::green, Colour::pink, Pattern::striped, Shape::cone},
    {Colour::black, Colour::orange, Pattern::striped, Shape::cylinder},
    {Colour::purple, Colour::yellow, Pattern::striped, Shape::ring},
    {Colour::orange, Colour::blue, Pattern::striped, Shape::star},
    {Colour::white, Colour::green, Pattern::striped, Shape::pyramid},
    {Colour::pink, Colour::black, Pattern::striped, Shape::capsule},
    {Colour::yellow, Colour::purple, Pattern::striped, Shape::heart},
    {Colour::brown, Colour::white, Pattern::striped, Shape::cross},
    {Colour::blue, Colour::white, Pattern::dotted, Shape::cube},
    {Colour::red, Colour::yellow, Pattern::dotted, Shape::ball},
    {Colour::yellow, Colour::black, Pattern::dotted, Shape::cone},
    {Colour::pink, Colour::green, Pattern::dotted, Shape::cylinder},
    {Colour::white, Colour::red, Pattern::dotted, Shape::ring},
    {Colour::green, Colour::white, Pattern::dotted, Shape::star},
    {Colour::purple, Colour::orange, Pattern::dotted, Shape::pyramid},
    {Colour::brown, Colour::yellow, Pattern::dotted, Shape::capsule},
    {Colour::black, Colour::pink, Pattern::dotted, Shape::heart},
    {Colour::orange, Colour::purple, Pattern::dotted, Shape::cross},
    {Colour::green, Colour::yellow, Pattern::checkered, Shape::cube},
    {Colour::black, Colour::white, Pattern::checkered, Shape::ball},
    {Colour::orange, Colour::white, Pattern::checkered, Shape::cone},
    {Colour::blue, Colour::red, Pattern::checkered, Shape::cylinder},
    {Colour::pink, Colour::blue, Pattern::checkered, Shape::ring},
    {Colour::red, Colour::black, Pattern::checkered, Shape::star},
    {Colour::yellow, Colour::brown, Pattern::checkered, Shape::pyramid},
    {Colour::purple, Colour::white, Pattern::checkered, Shape::capsule},
    {Colour::white, Colour::blue, Pattern::checkered, Shape::heart},
    {Colour::green, Colour::red, Pattern::checkered, Shape::cross},
};

constexpr uint64_t kSubjectSeed = 0x6d696e6973756273ULL;  // fixed: "minisubs"

}  // namespace

const std::vector<MiniSubject>& mini_subjects() {
  static const std::vector<MiniSubject> subjects = [] {
    std::vector<MiniSubject> out;
    int i = 0;
    for (const auto& spec : kSubjects) {
      MiniSubject s;
      s.look.shape = spec.shape;
      s.look.colour = spec.colour;
      s.look.second_colour = spec.second;
      s.look.pattern = spec.pattern;
      s.look.pattern_frequency = 2.5 + 0.25 * (i % 5);
      s.class_noun = shape_word(spec.shape);
      s.name = colour_word(spec.colour) + "_" + colour_word(spec.second) + "_" + pattern_word(spec.pattern) + "_" +
               s.class_noun;
      s.num_images = 4 + i % 3;
      s.seed = kSubjectSeed + uint64_t(i);
      out.push_back(s);
      ++i;
    }
    return out;
  }();
  return subjects;
}

MiniScene subject_scene(const MiniSubject& subject, int index) {
  // Pose and light as in training; backgrounds all different within one subject.
  MiniScene scene = sample_training_scene(item_seed(subject.seed, uint64_t(index)));
  SplitMix64 order(subject.seed ^ 0xb4c6ULL);
  std::vector<int> backgrounds(kBackgrounds);
  for (int b = 0; b < kBackgrounds; ++b) backgrounds[size_t(b)] = b;
  for (int b = kBackgrounds - 1; b > 0; --b) std::swap(backgrounds[size_t(b)], backgrounds[size_t(order.below(b + 1))]);
  scene.background = Background(backgrounds[size_t(index) % backgrounds.size()]);
  scene.shape = subject.look.shape;
  scene.colour = subject.look.colour;
  scene.second_colour = subject.look.second_colour;
  scene.pattern = subject.look.pattern;
  scene.pattern_frequency = subject.look.pattern_frequency;
  scene.shiny = scene.wet = scene.cube_shaped = false;
  scene.says_colour = scene.says_pattern = scene.says_background = true;
  return scene;
}

const std::vector<std::string>& mini_object_prompts() { return dreambooth_object_prompt_templates(); }

const std::vector<std::string>& mini_live_prompts() {
  static const std::vector<std::string> prompts = [] {
    const auto& object = dreambooth_object_prompt_templates();
    // DreamBooth's live list shares its first 10 (contexts) and last 5 (attributes) with the object list.
    std::vector<std::string> out(object.begin(), object.begin() + 10);
    out.insert(out.end(), object.end() - 5, object.end());
    return out;
  }();
  return prompts;
}

}  // namespace pbench::mini
