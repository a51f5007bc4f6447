#include "datasets/builtin_subjects.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench {

const std::vector<BuiltinSubject>& builtin_subjects() {
  static const std::vector<BuiltinSubject> subjects = {
      {"red_cube", "cube"}, {"blue_ball", "ball"}, {"yellow_star", "star"}, {"striped_mug", "mug"}};
  return subjects;
}

const std::vector<std::string>& dreambooth_object_prompt_templates() {
  static const std::vector<std::string> templates = {
      "a {0} {1} in the jungle", "a {0} {1} in the snow", "a {0} {1} on the beach",
      "a {0} {1} on a cobblestone street", "a {0} {1} on top of pink fabric", "a {0} {1} on top of a wooden floor",
      "a {0} {1} with a city in the background", "a {0} {1} with a mountain in the background",
      "a {0} {1} with a blue house in the background", "a {0} {1} on top of a purple rug in a forest",
      "a {0} {1} with a wheat field in the background", "a {0} {1} with a tree and autumn leaves in the background",
      "a {0} {1} with the Eiffel Tower in the background", "a {0} {1} floating on top of water",
      "a {0} {1} floating in an ocean of milk", "a {0} {1} on top of green grass with sunflowers around it",
      "a {0} {1} on top of a mirror", "a {0} {1} on top of the sidewalk in a crowded street",
      "a {0} {1} on top of a dirt road", "a {0} {1} on top of a white rug", "a red {0} {1}", "a purple {0} {1}",
      "a shiny {0} {1}", "a wet {0} {1}", "a cube shaped {0} {1}"};
  return templates;
}

namespace {

// splitmix64: a tiny generator whose output is the same everywhere (the
// standard library's distributions are not).
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
};

struct Color {
  double r, g, b;
};
Color mix(Color a, Color b, double t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }
Color scale(Color c, double s) { return {c.r * s, c.g * s, c.b * s}; }

struct Scene {
  Color sky_top, sky_bottom, floor;
  double horizon, cx, cy, radius, tilt;
};

bool inside_star(double x, double y, double r) {
  // Five-pointed star: compare the radius with the star's outline at this angle.
  double angle = std::atan2(y, x) + M_PI / 2;
  double sector = std::fmod(angle + 10 * M_PI, 2 * M_PI / 5) / (2 * M_PI / 5);  // 0..1 inside one point
  double outline = r * (0.45 + 0.55 * std::fabs(1 - 2 * sector));
  return std::hypot(x, y) <= outline;
}

// Colour of one sample point; nullopt-free: returns false when the object does not cover it.
bool object_color(const std::string& subject, double x, double y, const Scene& s, Color& out) {
  double dx = (x - s.cx) / s.radius, dy = (y - s.cy) / s.radius;
  double c = std::cos(s.tilt), sn = std::sin(s.tilt);
  double u = c * dx + sn * dy, v = -sn * dx + c * dy;  // object frame, radius 1
  if (subject == "red_cube") {
    Color front{0.85, 0.12, 0.10}, top{0.98, 0.45, 0.40}, side{0.55, 0.05, 0.05};
    if (std::fabs(u) <= 0.7 && v >= -0.4 && v <= 1.0) { out = front; return true; }
    if (v < -0.4 && v >= -0.9 && u >= -0.7 + (-0.4 - v) * 0.6 && u <= 0.7 + (-0.4 - v) * 0.6) { out = top; return true; }
    if (u > 0.7 && u <= 1.0 && v <= 1.0 - (u - 0.7) && v >= -0.4 - (u - 0.7) * 1.6) { out = side; return true; }
    return false;
  }
  if (subject == "blue_ball") {
    double d = std::hypot(u, v);
    if (d > 0.95) return false;
    double highlight = std::exp(-((u + 0.35) * (u + 0.35) + (v + 0.35) * (v + 0.35)) * 6.0);
    out = mix(scale(Color{0.10, 0.25, 0.85}, 1.0 - 0.45 * d), Color{0.9, 0.95, 1.0}, highlight);
    return true;
  }
  if (subject == "yellow_star") {
    if (!inside_star(u, v, 1.0)) return false;
    out = mix(Color{0.98, 0.85, 0.10}, Color{0.80, 0.55, 0.05}, std::min(1.0, std::hypot(u, v)));
    return true;
  }
  // striped_mug: a body with white and teal stripes and a handle on the right.
  if (std::fabs(u) <= 0.6 && std::fabs(v) <= 0.8) {
    bool stripe = int(std::floor((v + 0.8) / 0.2)) % 2 == 0;
    out = stripe ? Color{0.95, 0.95, 0.92} : Color{0.05, 0.55, 0.55};
    out = scale(out, 0.8 + 0.2 * std::cos(u * 2.2));
    return true;
  }
  double hx = u - 0.6, hd = std::hypot(hx, v);
  if (hx > 0 && hd >= 0.22 && hd <= 0.38) {
    out = Color{0.05, 0.55, 0.55};
    return true;
  }
  return false;
}

}  // namespace

Image render_builtin_subject(const std::string& subject, int index, int size) {
  const auto& all = builtin_subjects();
  if (std::none_of(all.begin(), all.end(), [&](const BuiltinSubject& b) { return b.name == subject; })) {
    std::string names;
    for (const auto& b : all) names += (names.empty() ? "" : ", ") + b.name;
    throw InputError("dataset.subject: unknown built-in subject '" + subject + "'; subjects: " + names + ", or all");
  }
  Rng rng{derive_seed(index, "builtin:" + subject)};
  Scene s;
  s.sky_top = {rng.uniform(0.3, 0.9), rng.uniform(0.4, 0.9), rng.uniform(0.5, 1.0)};
  s.sky_bottom = {rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0)};
  s.floor = {rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.6), rng.uniform(0.1, 0.5)};
  s.horizon = rng.uniform(0.55, 0.75);
  s.radius = rng.uniform(0.22, 0.32);
  s.cx = rng.uniform(0.35, 0.65);
  s.cy = rng.uniform(0.45, 0.6);
  s.tilt = rng.uniform(-0.25, 0.25);
  Image img;
  img.width = img.height = size;
  img.rgb.resize(size_t(size) * size_t(size) * 3);
  const int ss = 3;  // 3x3 supersampling for smooth edges
  for (int py = 0; py < size; ++py) {
    for (int px = 0; px < size; ++px) {
      Color acc{0, 0, 0};
      for (int sy = 0; sy < ss; ++sy) {
        for (int sx = 0; sx < ss; ++sx) {
          double x = (px + (sx + 0.5) / ss) / size, y = (py + (sy + 0.5) / ss) / size;
          Color c;
          if (!object_color(subject, x, y, s, c)) {
            c = y < s.horizon ? mix(s.sky_top, s.sky_bottom, y / s.horizon)
                              : scale(s.floor, 0.8 + 0.4 * (y - s.horizon) / (1 - s.horizon));
            // a soft shadow under the object
            double shadow = std::exp(-std::pow((x - s.cx) / (s.radius * 1.2), 2) -
                                     std::pow((y - (s.cy + s.radius)) / (s.radius * 0.25), 2));
            c = scale(c, 1.0 - 0.45 * shadow);
          }
          acc = {acc.r + c.r, acc.g + c.g, acc.b + c.b};
        }
      }
      uint8_t* p = img.pixel(px, py);
      const double n = ss * ss;
      p[0] = uint8_t(std::clamp(acc.r / n, 0.0, 1.0) * 255.0 + 0.5);
      p[1] = uint8_t(std::clamp(acc.g / n, 0.0, 1.0) * 255.0 + 0.5);
      p[2] = uint8_t(std::clamp(acc.b / n, 0.0, 1.0) * 255.0 + 0.5);
    }
  }
  return img;
}

void register_builtin_dataset(Registry<DatasetEntry>& registry) {
  registry.add(
      EntryInfo{"builtin", "built-in synthetic subjects drawn by pbench (no download; pipeline checks only)",
                yaml_defaults("name: builtin\nsubject: red_cube\nunique_token: sks\nnum_images: 5\nnum_eval_prompts: 25\n")},
      DatasetEntry{
          [](const cfg::Node& section, int resolution, const std::filesystem::path&) {
            SubjectData data;
            data.dataset = "builtin";
            data.subject = cfg::get_string(section, "subject");
            data.unique_token = cfg::get_string(section, "unique_token");
            int64_t n = cfg::get_int(section, "num_images");
            if (n < 1) throw InputError(section.find("num_images")->origin().describe() + ": dataset.num_images: expected at least 1");
            for (int64_t i = 0; i < n; ++i) {
              data.images.push_back(render_builtin_subject(data.subject, int(i), resolution));
              data.image_files.push_back("builtin:" + data.subject + "/" + std::to_string(i));
            }
            for (const auto& b : builtin_subjects())
              if (b.name == data.subject) data.class_noun = b.class_noun;
            fill_subject_prompts(data, dreambooth_object_prompt_templates(), cfg::get_int(section, "num_eval_prompts"));
            return data;
          },
          [](const cfg::Node&) {
            std::vector<std::string> names;
            for (const auto& b : builtin_subjects()) names.push_back(b.name);
            return names;
          }});
}

}  // namespace pbench
