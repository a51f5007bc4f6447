#define BOOST_TEST_MODULE mini_world
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "datasets/dataset.hpp"
#include "datasets/dreambooth.hpp"
#include "datasets/mini_world_command.hpp"
#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_subjects.hpp"
#include "datasets/mini_world_writer.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/io/image.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;
using namespace pbench::mini;

namespace {

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// What a reader of the caption alone learns about the scene (independent of caption()).
struct ParsedCaption {
  bool shiny = false, wet = false, cube_shaped = false;
  std::optional<Colour> colour;
  std::optional<Pattern> pattern;
  std::optional<Shape> shape;
  std::optional<Background> background;
};

ParsedCaption parse_caption(std::string text) {
  ParsedCaption p;
  for (int b = 0; b < kBackgrounds; ++b)
    if (ends_with(text, " " + background_phrase(Background(b)))) {
      p.background = Background(b);
      text.resize(text.size() - background_phrase(Background(b)).size() - 1);
    }
  auto w = words_of(text);
  BOOST_REQUIRE(!w.empty());
  BOOST_TEST((w[0] == "a" || w[0] == "an"));
  size_t i = 1;
  for (; i < w.size(); ++i) {
    if (w[i] == "shiny") p.shiny = true;
    else if (w[i] == "wet") p.wet = true;
    else if (w[i] == "cube" && i + 1 < w.size() && w[i + 1] == "shaped") p.cube_shaped = true, ++i;
    else break;
  }
  for (int c = 0; c < kColours && i < w.size(); ++c)
    if (w[i] == colour_word(Colour(c))) p.colour = Colour(c), ++i;
  for (int q = 1; q < kPatterns && i < w.size(); ++q)
    if (w[i] == pattern_word(Pattern(q))) p.pattern = Pattern(q), ++i;
  BOOST_REQUIRE_EQUAL(i + 1, w.size());  // the class word is last
  for (int s = 0; s < kShapes; ++s)
    if (w[i] == shape_word(Shape(s))) p.shape = Shape(s);
  return p;
}

struct Hsv {
  double h, s, v;  // degrees, [0,1], [0,1]
};
Hsv hsv_of(double r, double g, double b) {
  double mx = std::max({r, g, b}), mn = std::min({r, g, b}), d = mx - mn;
  double h = 0;
  if (d > 0) {
    if (mx == r) h = 60 * std::fmod((g - b) / d + 6, 6.0);
    else if (mx == g) h = 60 * ((b - r) / d + 2);
    else h = 60 * ((r - g) / d + 4);
  }
  return {h, mx > 0 ? d / mx : 0, mx};
}
double hue_distance(double a, double b) {
  double d = std::fabs(a - b);
  return std::min(d, 360 - d);
}

// Mean colour of the pixels the object fully covers.
Rgb object_mean(const Image& img, const std::vector<float>& coverage) {
  Rgb sum;
  int n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (coverage[size_t(y) * size_t(img.width) + size_t(x)] >= 1.0f) {
        const uint8_t* p = img.pixel(x, y);
        sum = {sum.r + p[0] / 255.0, sum.g + p[1] / 255.0, sum.b + p[2] / 255.0};
        ++n;
      }
  BOOST_REQUIRE_GT(n, 20);
  return {sum.r / n, sum.g / n, sum.b / n};
}

// 4x4 grid of mean colours: the layout of a background, not its fine texture.
std::vector<double> layout_descriptor(const Image& img) {
  std::vector<double> d(48, 0.0);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      size_t cell = size_t((y * 4 / img.height) * 4 + x * 4 / img.width);
      for (int c = 0; c < 3; ++c) d[cell * 3 + size_t(c)] += img.pixel(x, y)[c] / 255.0;
    }
  double per_cell = double(img.width * img.height) / 16.0;
  for (double& v : d) v /= per_cell;
  return d;
}
double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / double(a.size()));
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<float> coverage_of(const MiniScene& s, int res) {
  std::vector<float> cov;
  render_scene(s, res, &cov);
  return cov;
}

}  // namespace

BOOST_AUTO_TEST_CASE(same_seed_same_bytes_different_seed_different_scene) {
  for (uint64_t seed : {0ULL, 1ULL, 12345ULL}) {
    MiniScene a = sample_training_scene(seed), b = sample_training_scene(seed);
    BOOST_TEST(caption(a) == caption(b));
    BOOST_TEST((render_scene(a, 48).rgb == render_scene(b, 48).rgb));
  }
  BOOST_TEST((render_scene(sample_training_scene(1), 32).rgb != render_scene(sample_training_scene(2), 32).rgb));
  Image img = render_scene(sample_training_scene(3), 40);
  BOOST_TEST(img.width == 40);
  BOOST_TEST(img.height == 40);
  BOOST_TEST(img.rgb.size() == size_t(40 * 40 * 3));
  BOOST_CHECK_THROW(render_scene(sample_training_scene(3), 4), InputError);
}

BOOST_AUTO_TEST_CASE(every_vocabulary_word_appears_in_training_captions) {
  std::string all;
  for (uint64_t i = 0; i < 3000; ++i) all += caption(sample_training_scene(item_seed(7, i))) + "\n";
  auto has = [&](const std::string& w) { return all.find(" " + w + " ") != std::string::npos || all.find(" " + w + "\n") != std::string::npos; };
  for (int s = 0; s < kShapes; ++s) BOOST_TEST(has(shape_word(Shape(s))), shape_word(Shape(s)));
  for (int c = 0; c < kColours; ++c) BOOST_TEST(has(colour_word(Colour(c))), colour_word(Colour(c)));
  for (int p = 1; p < kPatterns; ++p) BOOST_TEST(has(pattern_word(Pattern(p))), pattern_word(Pattern(p)));
  for (int b = 0; b < kBackgrounds; ++b) BOOST_TEST(has(background_phrase(Background(b))), background_phrase(Background(b)));
  for (const char* attribute : {"shiny", "wet", "cube shaped"}) BOOST_TEST(has(attribute), attribute);
  BOOST_TEST(all.find("plain") == std::string::npos);  // plain is the unmarked case, as in DreamBooth's prompts
}

BOOST_AUTO_TEST_CASE(a_caption_says_exactly_what_the_scene_shows) {
  for (uint64_t i = 0; i < 2000; ++i) {
    MiniScene s = i % 2 ? sample_training_scene(item_seed(3, i)) : sample_held_out_scene(item_seed(4, i));
    std::string text = caption(s);
    ParsedCaption p = parse_caption(text);
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(p.shiny == s.shiny);
      BOOST_TEST(p.wet == s.wet);
      BOOST_TEST(p.cube_shaped == s.cube_shaped);
      BOOST_TEST((p.shape && *p.shape == s.shape));
      BOOST_TEST(bool(p.colour) == s.says_colour);
      if (p.colour) BOOST_TEST((*p.colour == s.colour));
      BOOST_TEST(bool(p.pattern) == (s.says_pattern && s.pattern != Pattern::plain));
      if (p.pattern) BOOST_TEST((*p.pattern == s.pattern));
      BOOST_TEST(bool(p.background) == s.says_background);
      if (p.background) BOOST_TEST((*p.background == s.background));
    }
  }
  MiniScene s;
  s.shape = Shape::cube;
  s.colour = Colour::red;
  s.pattern = Pattern::striped;
  s.background = Background::beach;
  BOOST_TEST(caption(s) == "a red striped cube on the beach");
  s.colour = Colour::orange;
  s.says_background = false;
  BOOST_TEST(caption(s) == "an orange striped cube");
}

BOOST_AUTO_TEST_CASE(held_out_triples_never_train_and_only_they_evaluate) {
  const auto& held = held_out_combinations();
  BOOST_TEST(held.size() == 181u);
  std::set<int> shapes, colours, backgrounds, shape_colour, colour_background;
  for (uint64_t i = 0; i < 20000; ++i) {
    MiniScene s = sample_training_scene(item_seed(11, i));
    BOOST_REQUIRE(!is_held_out(s.shape, s.colour, s.background));
    shapes.insert(int(s.shape));
    colours.insert(int(s.colour));
    backgrounds.insert(int(s.background));
    shape_colour.insert(int(s.shape) * kColours + int(s.colour));
    colour_background.insert(int(s.colour) * kBackgrounds + int(s.background));
  }
  // The rule removes triples only: every word and every pair still trains.
  BOOST_TEST(shapes.size() == size_t(kShapes));
  BOOST_TEST(colours.size() == size_t(kColours));
  BOOST_TEST(backgrounds.size() == size_t(kBackgrounds));
  BOOST_TEST(shape_colour.size() == size_t(kShapes * kColours));
  BOOST_TEST(colour_background.size() == size_t(kColours * kBackgrounds));
  std::set<int> seen;
  for (uint64_t i = 0; i < 3000; ++i) {
    MiniScene s = sample_held_out_scene(item_seed(12, i));
    BOOST_REQUIRE(is_held_out(s.shape, s.colour, s.background));
    BOOST_TEST(!in_training_distribution(s));
    BOOST_TEST((s.says_colour && s.says_background));
    seen.insert((int(s.shape) * kColours + int(s.colour)) * kBackgrounds + int(s.background));
  }
  BOOST_TEST(seen.size() == held.size());  // 3000 draws of 181 cover them all
}

BOOST_AUTO_TEST_CASE(subjects_are_thirty_compositions_training_never_renders) {
  const auto& subjects = mini_subjects();
  BOOST_TEST(subjects.size() == 30u);
  std::set<std::string> names;
  std::map<Shape, int> per_shape;
  std::map<Pattern, int> per_pattern;
  for (const auto& s : subjects) {
    names.insert(s.name);
    per_shape[s.look.shape]++;
    per_pattern[s.look.pattern]++;
    BOOST_TEST((s.look.second_colour && *s.look.second_colour != s.look.colour), s.name);
    BOOST_TEST((s.look.pattern != Pattern::plain));
    BOOST_TEST((s.num_images >= 4 && s.num_images <= 6));
    BOOST_TEST(s.class_noun == shape_word(s.look.shape));
    std::set<Background> bgs;
    for (int i = 0; i < s.num_images; ++i) {
      MiniScene scene = subject_scene(s, i);
      BOOST_TEST(!in_training_distribution(scene), s.name);
      bgs.insert(scene.background);
    }
    BOOST_TEST(bgs.size() == size_t(s.num_images));  // each photo in another place
  }
  BOOST_TEST(names.size() == 30u);
  for (const auto& [shape, n] : per_shape) BOOST_TEST(n == 3);
  for (const auto& [pattern, n] : per_pattern) BOOST_TEST(n == 10);
  for (uint64_t i = 0; i < 20000; ++i) {
    MiniScene s = sample_training_scene(item_seed(13, i));
    BOOST_REQUIRE(in_training_distribution(s));
    BOOST_REQUIRE(!s.second_colour);
  }
}

BOOST_AUTO_TEST_CASE(colours_render_as_their_colour) {
  for (int c = 0; c < kColours; ++c) {
    Colour colour = Colour(c);
    Rgb named = colour_rgb(colour);
    Hsv want = hsv_of(named.r, named.g, named.b);
    for (uint64_t i = 0; i < 6; ++i) {
      MiniScene s = sample_training_scene(item_seed(21, uint64_t(c) * 100 + i));
      s.colour = colour;
      std::vector<float> coverage;
      Image img = render_scene(s, 48, &coverage);
      Rgb mean = object_mean(img, coverage);
      Hsv got = hsv_of(mean.r, mean.g, mean.b);
      BOOST_TEST_CONTEXT(colour_word(colour) << ": " << caption(s) << " mean rgb " << mean.r << " " << mean.g << " " << mean.b) {
        if (colour == Colour::white) {
          BOOST_TEST(got.s < 0.1);
          BOOST_TEST(got.v > 0.4);  // and black stays below 0.3, whatever the light, wetness or pattern
        } else if (colour == Colour::black) {
          BOOST_TEST(got.v < 0.3);
        } else {
          BOOST_TEST(hue_distance(got.h, want.h) < 20.0);
          BOOST_TEST(got.s > 0.3);
        }
        if (colour == Colour::brown) {  // brown is a dark orange: darker than orange in the same scene
          s.colour = Colour::orange;
          Rgb orange = object_mean(render_scene(s, 48, &coverage), coverage);
          BOOST_TEST(got.v < 0.75 * hsv_of(orange.r, orange.g, orange.b).v);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(backgrounds_differ_measurably) {
  // Nearest-centroid classification of fresh renders by their 4x4 colour layout:
  // a background a model cannot tell apart from another would be misfiled here.
  std::vector<std::vector<double>> centroid(kBackgrounds, std::vector<double>(48, 0.0));
  const int fit = 4, probe = 3;
  for (int b = 0; b < kBackgrounds; ++b)
    for (int i = 0; i < fit; ++i) {
      MiniScene s = sample_training_scene(item_seed(31, uint64_t(b * 10 + i)));
      s.background = Background(b);
      auto d = layout_descriptor(render_scene(s, 32));
      for (size_t k = 0; k < d.size(); ++k) centroid[size_t(b)][k] += d[k] / fit;
    }
  int correct = 0;
  for (int b = 0; b < kBackgrounds; ++b)
    for (int i = 0; i < probe; ++i) {
      MiniScene s = sample_training_scene(item_seed(32, uint64_t(b * 10 + i)));
      s.background = Background(b);
      auto d = layout_descriptor(render_scene(s, 32));
      int best = 0;
      for (int o = 1; o < kBackgrounds; ++o)
        if (distance(d, centroid[size_t(o)]) < distance(d, centroid[size_t(best)])) best = o;
      if (best == b) ++correct;
      else BOOST_TEST_MESSAGE(background_name(Background(b)) << " probe " << i << " read as " << background_name(Background(best)));
    }
  double accuracy = double(correct) / (kBackgrounds * probe);
  BOOST_TEST_MESSAGE("background nearest-centroid accuracy " << accuracy);
  BOOST_TEST(accuracy >= 0.9);
  double closest = 1e9;
  for (int a = 0; a < kBackgrounds; ++a)
    for (int b = a + 1; b < kBackgrounds; ++b) closest = std::min(closest, distance(centroid[size_t(a)], centroid[size_t(b)]));
  BOOST_TEST_MESSAGE("closest pair of background centroids: RMS " << closest);
  BOOST_TEST(closest > 0.03);  // about 8 of 255 per channel and cell
}

BOOST_AUTO_TEST_CASE(classes_have_their_own_shaded_silhouettes) {
  MiniScene s;
  s.x = 0.5;
  s.y = 0.5;
  s.size = 0.3;
  s.yaw = 0.5;
  s.background = Background::wooden_floor;
  std::vector<std::vector<float>> masks;
  for (int k = 0; k < kShapes; ++k) {
    s.shape = Shape(k);
    std::vector<float> cov;
    Image img = render_scene(s, 48, &cov);
    double area = 0, lum = 0, lum2 = 0;
    int n = 0;
    for (size_t p = 0; p < cov.size(); ++p) {
      area += cov[p];
      if (cov[p] >= 1.0f) {
        const uint8_t* px = img.rgb.data() + p * 3;
        double l = (0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]) / 255.0;
        lum += l, lum2 += l * l, ++n;
      }
    }
    BOOST_TEST_CONTEXT(shape_word(Shape(k))) {
      BOOST_TEST(area > 48 * 48 * 0.04);  // clearly visible
      BOOST_TEST(area < 48 * 48 * 0.5);
      double mean = lum / n, sd = std::sqrt(std::max(0.0, lum2 / n - mean * mean));
      BOOST_TEST(sd > 0.03);  // shaded, not flat
    }
    masks.push_back(cov);
  }
  for (int a = 0; a < kShapes; ++a)
    for (int b = a + 1; b < kShapes; ++b) {
      double inter = 0, uni = 0;
      for (size_t p = 0; p < masks[size_t(a)].size(); ++p) {
        inter += std::min(masks[size_t(a)][p], masks[size_t(b)][p]);
        uni += std::max(masks[size_t(a)][p], masks[size_t(b)][p]);
      }
      BOOST_TEST(inter / uni < 0.9, shape_word(Shape(a)) << " vs " << shape_word(Shape(b)));
    }
  // "cube shaped" draws a cube whatever the class word.
  s.shape = Shape::ball;
  s.cube_shaped = true;
  BOOST_TEST((coverage_of(s, 48) == masks[size_t(Shape::cube)]));
}

BOOST_AUTO_TEST_CASE(subjects_folder_loads_through_the_dreambooth_loader) {
  fs::path root = test::scratch_dir("mini_world_subjects");
  int64_t written = write_mini_subjects(root / "dataset", 32);
  DreamBoothIndex index = read_dreambooth_index(root);
  BOOST_TEST(index.classes.size() == 30u);
  BOOST_TEST((index.object_prompts == mini_object_prompts()));
  BOOST_TEST(index.object_prompts.size() == 25u);
  BOOST_TEST(index.live_prompts.size() == 15u);
  const auto& entry = datasets().get("dreambooth", "test").factory;
  std::string yaml = "name: dreambooth\nroot: " + root.string() + "\nsubject: all\nunique_token: sks\nnum_eval_prompts: 25\n";
  auto names = entry.subjects(cfg::parse_yaml_text(yaml, {"test", 0}));
  BOOST_TEST(names.size() == 30u);
  int64_t loaded = 0;
  for (const auto& subject : mini_subjects()) {
    BOOST_TEST(std::count(names.begin(), names.end(), subject.name) == 1);
    std::string one = "name: dreambooth\nroot: " + root.string() + "\nsubject: " + subject.name +
                      "\nunique_token: sks\nnum_eval_prompts: 25\n";
    SubjectData data = entry.load(cfg::parse_yaml_text(one, {"test", 0}), 32, {});
    BOOST_TEST(data.class_noun == subject.class_noun);
    BOOST_TEST(!data.live);
    BOOST_TEST(data.images.size() == size_t(subject.num_images));
    BOOST_TEST(data.eval_prompts.size() == 25u);
    BOOST_TEST(data.instance_prompt == "a sks " + subject.class_noun);
    // The file holds exactly what the renderer draws.
    BOOST_TEST((data.images[0].rgb == render_scene(subject_scene(subject, 0), 32).rgb));
    loaded += int64_t(data.images.size());
    // Dataset `mini_world` renders the same subject on the fly: the same images and prompts.
    const std::string mini = "name: mini_world\nsubject: " + subject.name + "\nunique_token: sks\nnum_eval_prompts: 25\n";
    const SubjectData rendered = datasets().get("mini_world", "test").factory.load(cfg::parse_yaml_text(mini, {"test", 0}), 32, {});
    BOOST_TEST(rendered.class_noun == data.class_noun);
    BOOST_TEST((rendered.eval_prompts == data.eval_prompts));
    BOOST_TEST(rendered.instance_prompt == data.instance_prompt);
    BOOST_REQUIRE(rendered.images.size() == data.images.size());
    for (size_t i = 0; i < data.images.size(); ++i) BOOST_TEST((rendered.images[i].rgb == data.images[i].rgb));
  }
  BOOST_TEST(loaded == written);
  const auto& mini_entry = datasets().get("mini_world", "test").factory;
  BOOST_TEST(mini_entry.subjects(cfg::parse_yaml_text("name: mini_world\n", {"test", 0})).size() == 30u);
  try {
    mini_entry.load(cfg::parse_yaml_text("name: mini_world\nsubject: red_cube\nunique_token: sks\nnum_eval_prompts: 2\n",
                                         {"test", 0}), 32, {});
    BOOST_FAIL("unknown subject loaded");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("red_white_striped_cube") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(writer_and_command_write_the_same_bytes_twice) {
  fs::path a = test::scratch_dir("mini_world_a"), b = test::scratch_dir("mini_world_b");
  MiniWorldOptions o;
  o.resolution = 16;
  o.train_count = 6;
  o.held_out_count = 4;
  o.seed = 5;
  MiniWorldCounts counts = write_mini_world(a, o);
  BOOST_TEST(counts.subjects == 30);
  BOOST_TEST(counts.train_images == 6);
  std::string out = b.string();
  std::vector<std::string> args = {"pbench mini-world", out, "--resolution", "16", "--train-count", "6",
                                   "--held-out-count", "4", "--seed", "5"};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  BOOST_TEST(mini_world_command(int(argv.size()), argv.data()) == 0);
  for (const char* f : {"train/captions.jsonl", "held_out/captions.jsonl", "train/images/000005.png",
                        "subjects/dataset/prompts_and_classes.txt", "mini_world.json"})
    BOOST_TEST((read_file(a / f) == read_file(b / f)), f);
  std::ifstream lines(a / "train" / "captions.jsonl");
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    auto j = nlohmann::json::parse(line);
    MiniScene s = sample_training_scene(j.at("seed").get<uint64_t>());
    BOOST_TEST(j.at("caption").get<std::string>() == caption(s));
    BOOST_TEST(j.at("class").get<std::string>() == shape_word(s.shape));
    BOOST_TEST((decode_image_file(a / "train" / j.at("file").get<std::string>()).rgb == render_scene(s, 16).rgb));
  }
  BOOST_TEST(n == 6);
  auto info = nlohmann::json::parse(read_file(a / "mini_world.json"));
  BOOST_TEST(info.at("classes").size() == size_t(kShapes));
  BOOST_TEST(info.at("backgrounds").at("beach").get<std::string>() == "on the beach");
  std::ifstream held(a / "held_out" / "captions.jsonl");
  for (std::string line; std::getline(held, line);) {
    MiniScene s = sample_held_out_scene(nlohmann::json::parse(line).at("seed").get<uint64_t>());
    BOOST_TEST(is_held_out(s.shape, s.colour, s.background));
  }
  std::vector<std::string> bad = {"pbench mini-world", out, "--resolution", "2"};
  std::vector<char*> bad_argv;
  for (auto& s : bad) bad_argv.push_back(s.data());
  BOOST_TEST(mini_world_command(int(bad_argv.size()), bad_argv.data()) == 2);
}
