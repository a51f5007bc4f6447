#include "datasets/mini_world_render.hpp"

#include <algorithm>
#include <cmath>

#include "datasets/mini_world_backgrounds.hpp"
#include "datasets/mini_world_shapes.hpp"
#include "framework/util/errors.hpp"

namespace pbench::mini {
namespace {

constexpr double kCameraElevation = 0.38;  // radians below the horizontal: the top of a cube shows

Rgb mix(Rgb a, Rgb b, double t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }
double fract(double v) { return v - std::floor(v); }

// Rotation about the vertical axis, world -> object.
Vec3 unyaw(Vec3 v, double c, double s) { return {c * v.x - s * v.z, v.y, s * v.x + c * v.z}; }

// Traces the object of one scene: what a ray through an image point hits and its shaded colour.
class ObjectTracer {
 public:
  explicit ObjectTracer(const MiniScene& s)
      : scene_(s), geometry_(s.cube_shaped ? Shape::cube : s.shape),
        base_(colour_rgb(s.colour)), second_(s.second_colour ? colour_rgb(*s.second_colour) : pattern_tone(s.colour)) {
    double cy = std::cos(s.yaw), sy = std::sin(s.yaw);
    double ce = std::cos(kCameraElevation), se = std::sin(kCameraElevation);
    forward_ = unyaw({0, -se, ce}, cy, sy);
    right_ = unyaw({1, 0, 0}, cy, sy);
    up_ = unyaw({0, ce, se}, cy, sy);
    Vec3 light{std::cos(s.light_elevation) * std::sin(s.light_azimuth), std::sin(s.light_elevation),
               -std::cos(s.light_elevation) * std::cos(s.light_azimuth)};
    light_ = unyaw(light, cy, sy);
    half_ = normalize(light_ - forward_);
    if (s.wet) {  // wet: darker, more saturated, glossy, droplets
      base_ = {base_.r * 0.82, base_.g * 0.82, base_.b * 0.82};
      second_ = {second_.r * 0.82, second_.g * 0.82, second_.b * 0.82};
    }
  }

  // Image point in [0, 1]² (y down). Returns false when the ray misses.
  bool trace(double x, double y, Rgb& out) const {
    double du = (x - scene_.x) / scene_.size, dv = (scene_.y - y) / scene_.size;
    double ct = std::cos(scene_.tilt), st = std::sin(scene_.tilt);
    double u = ct * du - st * dv, v = st * du + ct * dv;
    if (u * u + v * v > kShapeBound * kShapeBound) return false;
    Vec3 origin = right_ * u + up_ * v - forward_ * 3.0;
    double b = dot(origin, forward_), c = dot(origin, origin) - kShapeBound * kShapeBound;
    double disc = b * b - c;
    if (disc < 0) return false;
    double t = -b - std::sqrt(disc), t_end = -b + std::sqrt(disc);
    for (int i = 0; i < 96 && t < t_end; ++i) {
      Vec3 p = origin + forward_ * t;
      double d = shape_distance(geometry_, p);
      if (d < 1e-3) {
        out = shade(p);
        return true;
      }
      t += d;
    }
    return false;
  }

  // Image row (fraction of the height) where the object touches the ground.
  double base_row() const { return scene_.y - kShapeBase * std::cos(kCameraElevation) * scene_.size; }

 private:
  Vec3 normal_at(Vec3 p) const {
    const double e = 1e-3;
    return normalize({shape_distance(geometry_, p + Vec3{e, 0, 0}) - shape_distance(geometry_, p - Vec3{e, 0, 0}),
                      shape_distance(geometry_, p + Vec3{0, e, 0}) - shape_distance(geometry_, p - Vec3{0, e, 0}),
                      shape_distance(geometry_, p + Vec3{0, 0, e}) - shape_distance(geometry_, p - Vec3{0, 0, e})});
  }

  bool second_tone_at(Vec3 p) const {
    const double f = scene_.pattern_frequency;
    switch (scene_.pattern) {
      case Pattern::plain: return false;
      case Pattern::striped: return int64_t(std::floor(p.y * f + 0.25)) % 2 != 0;
      case Pattern::checkered:
        return (int64_t(std::floor(p.x * f)) + int64_t(std::floor(p.y * f)) + int64_t(std::floor(p.z * f))) % 2 != 0;
      case Pattern::dotted: {
        // Two interleaved lattices (body-centred cubic), so every face, flat or not, cuts some dots.
        for (double offset : {0.0, 0.5}) {
          Vec3 q{fract(p.x * f + offset) - 0.5, fract(p.y * f + offset) - 0.5, fract(p.z * f + offset) - 0.5};
          if (dot(q, q) < 0.3 * 0.3) return true;
        }
        return false;
      }
    }
    return false;
  }

  Rgb shade(Vec3 p) const {
    Vec3 n = normal_at(p);
    Rgb albedo = second_tone_at(p) ? second_ : base_;
    double lambert = std::max(0.0, dot(n, light_));
    double occlusion = 0.75 + 0.25 * std::clamp((p.y - kShapeBase) / 0.35, 0.0, 1.0);  // darker where it meets the ground
    double light = (scene_.ambient + scene_.light_strength * lambert) * occlusion;
    double gloss = scene_.shiny ? 1.0 : scene_.wet ? 0.6 : 0.05, power = scene_.shiny ? 90 : scene_.wet ? 40 : 6;
    double highlight = gloss * std::pow(std::max(0.0, dot(n, half_)), power) * scene_.light_strength;
    if (scene_.shiny) {
      // A polished surface mirrors its surroundings: bright sky above, dark ground below (and a Fresnel rim).
      Vec3 mirrored = forward_ - n * (2 * dot(forward_, n));
      double sky = std::clamp((mirrored.y + 0.2) / 0.6, 0.0, 1.0);
      light *= 0.75;
      highlight += 0.35 * sky * sky + 0.2 * std::pow(1.0 - std::max(0.0, -dot(n, forward_)), 3);
    }
    if (scene_.wet) {
      Vec3 q{fract(p.x * 7) - 0.5, fract(p.y * 7) - 0.5, fract(p.z * 7) - 0.5};
      int64_t cell = int64_t(std::floor(p.x * 7)) * 73 + int64_t(std::floor(p.y * 7)) * 19 + int64_t(std::floor(p.z * 7));
      if (dot(q, q) < 0.24 * 0.24 && (cell * 2654435761LL) % 2 == 0) highlight += 0.6;  // droplets
    }
    return {albedo.r * light + highlight, albedo.g * light + highlight, albedo.b * light + highlight};
  }

  const MiniScene& scene_;
  Shape geometry_;
  Rgb base_, second_;
  Vec3 forward_, right_, up_, light_, half_;
};

uint8_t to_byte(double v) { return uint8_t(std::clamp(v, 0.0, 1.0) * 255.0 + 0.5); }

}  // namespace

Image render_scene(const MiniScene& scene, int resolution, std::vector<float>* object_coverage) {
  if (resolution < 8 || resolution > 4096)
    throw InputError("mini world: resolution " + std::to_string(resolution) + " out of range (expected 8..4096)");
  BackgroundPainter background(scene);
  ObjectTracer object(scene);
  const double base = object.base_row(), size = scene.size;
  const bool floating = is_floating(scene.background), reflective = is_reflective(scene.background);
  // Floating objects sink a third of their height; the water line is also the reflection axis.
  const double surface = floating ? base - 0.55 * size : base;
  const double shadow_dx = -std::sin(scene.light_azimuth) * 0.5 * size * (1.3 - 0.5 * scene.light_elevation);
  const double shadow_strength = 0.5 * scene.light_strength;

  Image img;
  img.width = img.height = resolution;
  img.rgb.resize(size_t(resolution) * size_t(resolution) * 3);
  if (object_coverage) object_coverage->assign(size_t(resolution) * size_t(resolution), 0.0f);
  const int ss = 2;
  for (int py = 0; py < resolution; ++py) {
    for (int px = 0; px < resolution; ++px) {
      Rgb acc;
      int visible = 0;
      for (int sy = 0; sy < ss; ++sy) {
        for (int sx = 0; sx < ss; ++sx) {
          double x = (px + (sx + 0.5) / ss) / resolution, y = (py + (sy + 0.5) / ss) / resolution;
          Rgb c = background.at(x, y);
          if (!floating) {
            double dx = (x - scene.x - shadow_dx) / (0.95 * size), dy = (y - base) / (0.22 * size);
            double shade = 1.0 - shadow_strength * std::exp(-2.0 * (dx * dx + dy * dy));
            c = {c.r * shade, c.g * shade, c.b * shade};
          }
          Rgb hit;
          if (reflective && y > surface) {
            double ripple = scene.background == Background::water ? 0.004 * std::sin(y * 220) : 0.0;
            if (object.trace(x + ripple, 2 * surface - y, hit))
              c = mix(c, {hit.r * 0.85, hit.g * 0.85, hit.b * 0.85}, scene.background == Background::mirror ? 0.6 : 0.35);
          }
          if (object.trace(x, y, hit)) {
            if (floating && y > surface) {
              c = mix(hit, c, 0.75);  // under the surface: mostly water or milk
            } else {
              c = hit;
              ++visible;
            }
          }
          acc = {acc.r + c.r, acc.g + c.g, acc.b + c.b};
        }
      }
      uint8_t* p = img.pixel(px, py);
      const double n = ss * ss;
      p[0] = to_byte(acc.r / n);
      p[1] = to_byte(acc.g / n);
      p[2] = to_byte(acc.b / n);
      if (object_coverage) (*object_coverage)[size_t(py) * size_t(resolution) + size_t(px)] = float(visible) / float(n);
    }
  }
  return img;
}

}  // namespace pbench::mini
