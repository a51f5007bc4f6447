#include "datasets/mini_world_writer.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_subjects.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench::mini {
namespace {

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string() + ": cannot create folder (" + ec.message() + ")");
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path.string() + ": cannot write");
  out << text;
}

std::string numbered(int64_t i, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(i));
  return buf;
}

nlohmann::ordered_json caption_record(const std::string& file, const MiniScene& s, uint64_t seed) {
  return {{"file", file},
          {"caption", caption(s)},
          {"class", shape_word(s.shape)},
          {"colour", colour_word(s.colour)},
          {"pattern", pattern_word(s.pattern)},
          {"background", background_name(s.background)},
          {"shiny", s.shiny},
          {"wet", s.wet},
          {"cube_shaped", s.cube_shaped},
          {"seed", seed}};
}

// One captioned set: images/NNNNNN.png and captions.jsonl, scene i from item_seed(seed, i).
int64_t write_captioned_set(const fs::path& dir, const std::string& what, int64_t count, uint64_t seed,
                            MiniScene (*sample)(uint64_t), int resolution, const MiniWorldProgress& progress) {
  make_dirs(dir / "images");
  std::ofstream captions(dir / "captions.jsonl", std::ios::binary);
  if (!captions) throw InputError((dir / "captions.jsonl").string() + ": cannot write");
  int64_t bytes = 0;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t scene_seed = item_seed(seed, uint64_t(i));
    MiniScene scene = sample(scene_seed);
    std::string file = "images/" + numbered(i, 6) + ".png";
    write_png(dir / file, render_scene(scene, resolution));
    bytes += int64_t(fs::file_size(dir / file));
    captions << caption_record(file, scene, scene_seed).dump() << "\n";
    if (progress) progress(what, i + 1, count);
  }
  return bytes;
}

}  // namespace

std::string mini_prompts_and_classes() {
  std::string text = "Classes\n\nsubject_name,class\n";
  for (const auto& s : mini_subjects()) text += s.name + "," + s.class_noun + "\n";
  auto list = [](const std::vector<std::string>& prompts) {
    std::string out = "prompt_list = [\n";
    for (size_t i = 0; i < prompts.size(); ++i)
      out += "'" + prompts[i] + "'.format(unique_token, class_token)" + (i + 1 < prompts.size() ? ",\n" : "\n");
    return out + "]\n";
  };
  text += "\nPrompts\n\nObject Prompts\n\n" + list(mini_object_prompts());
  text += "\nLive Subject Prompts\n\n" + list(mini_live_prompts());
  return text;
}

int64_t write_mini_subjects(const fs::path& dataset_dir, int resolution) {
  make_dirs(dataset_dir);
  write_text(dataset_dir / "prompts_and_classes.txt", mini_prompts_and_classes());
  int64_t images = 0;
  for (const auto& subject : mini_subjects()) {
    make_dirs(dataset_dir / subject.name);
    for (int i = 0; i < subject.num_images; ++i, ++images)
      write_png(dataset_dir / subject.name / (numbered(i, 2) + ".png"), render_scene(subject_scene(subject, i), resolution));
  }
  return images;
}

MiniWorldCounts write_mini_world(const fs::path& out, const MiniWorldOptions& o, const MiniWorldProgress& progress) {
  if (o.train_count < 0 || o.held_out_count < 0) throw InputError("mini world: image counts must not be negative");
  MiniWorldCounts counts;
  counts.subjects = int64_t(mini_subjects().size());
  counts.subject_images = write_mini_subjects(out / "subjects" / "dataset", o.resolution);
  if (progress) progress("subjects", counts.subject_images, counts.subject_images);
  // Different purposes of one seed must not share scenes: the held-out set gets its own stream.
  counts.bytes += write_captioned_set(out / "train", "train", o.train_count, o.seed, sample_training_scene,
                                      o.resolution, progress);
  counts.bytes += write_captioned_set(out / "held_out", "held_out", o.held_out_count, item_seed(o.seed, ~0ULL),
                                      sample_held_out_scene, o.resolution, progress);
  counts.train_images = o.train_count;
  counts.held_out_images = o.held_out_count;
  // The vocabulary in index order, so evaluation code can build its label prompts without the C++.
  nlohmann::ordered_json classes = nlohmann::ordered_json::array(), colours = nlohmann::ordered_json::array(),
                         patterns = nlohmann::ordered_json::array(), backgrounds = nlohmann::ordered_json::object();
  for (int i = 0; i < kShapes; ++i) classes.push_back(shape_word(Shape(i)));
  for (int i = 0; i < kColours; ++i) colours.push_back(colour_word(Colour(i)));
  for (int i = 0; i < kPatterns; ++i) patterns.push_back(pattern_word(Pattern(i)));
  for (int i = 0; i < kBackgrounds; ++i) backgrounds[background_name(Background(i))] = background_phrase(Background(i));
  nlohmann::ordered_json info = {{"world", "pbench mini world"},
                                 {"resolution", o.resolution},
                                 {"seed", o.seed},
                                 {"train_images", o.train_count},
                                 {"held_out_images", o.held_out_count},
                                 {"subjects", counts.subjects},
                                 {"subject_images", counts.subject_images},
                                 {"held_out_rule", "(class + 3*colour + 7*background) mod 11 == 0 (vocabulary indices)"},
                                 {"classes", classes},
                                 {"colours", colours},
                                 {"patterns", patterns},
                                 {"backgrounds", backgrounds},
                                 {"docs", "docs/mini_world.md"}};
  write_text(out / "mini_world.json", info.dump(2) + "\n");
  return counts;
}

}  // namespace pbench::mini
