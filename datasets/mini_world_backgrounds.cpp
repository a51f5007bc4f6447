#include "datasets/mini_world_backgrounds.hpp"

#include <algorithm>
#include <cmath>

namespace pbench::mini {

double cell_hash(int64_t x, int64_t y, uint32_t seed) {
  uint64_t h = uint64_t(x) * 0x9e3779b97f4a7c15ULL ^ uint64_t(y) * 0xc2b2ae3d27d4eb4fULL ^ uint64_t(seed) * 0x165667b19e3779f9ULL;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 29;
  return double(h >> 11) * 0x1.0p-53;
}

double value_noise(double x, double y, uint32_t seed) {
  double fx = std::floor(x), fy = std::floor(y);
  double tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  int64_t ix = int64_t(fx), iy = int64_t(fy);
  double a = cell_hash(ix, iy, seed), b = cell_hash(ix + 1, iy, seed);
  double c = cell_hash(ix, iy + 1, seed), d = cell_hash(ix + 1, iy + 1, seed);
  return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

namespace {

Rgb mix(Rgb a, Rgb b, double t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }
Rgb scaled(Rgb a, double s) { return {a.r * s, a.g * s, a.b * s}; }
double fract(double v) { return v - std::floor(v); }
double smoothstep(double e0, double e1, double v) {
  double t = std::clamp((v - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}
double fbm(double x, double y, uint32_t seed) {
  return 0.5 * value_noise(x, y, seed) + 0.3 * value_noise(2 * x, 2 * y, seed + 1) + 0.2 * value_noise(4 * x, 4 * y, seed + 2);
}

double horizon_of(Background b) {
  switch (b) {
    case Background::pink_fabric: return 0.3;
    case Background::cobblestone:
    case Background::water:
    case Background::milk: return 0.36;
    case Background::wooden_floor:
    case Background::beach:
    case Background::wheat_field:
    case Background::white_rug: return 0.42;
    case Background::snow:
    case Background::purple_rug:
    case Background::sunflowers:
    case Background::sidewalk:
    case Background::dirt_road: return 0.5;
    case Background::mirror: return 0.55;
    case Background::city: return 0.56;
    default: return 0.58;
  }
}

Rgb sky(double y, double h, Rgb top = {0.36, 0.58, 0.92}, Rgb bottom = {0.76, 0.86, 0.98}) {
  return mix(top, bottom, std::clamp(y / h, 0.0, 1.0));
}

// A disc of radius r (fraction of the image) somewhere inside each cell of side `cell`.
bool dot_in_cell(double x, double y, double cell, double r, double density, uint32_t seed, double* hash_out = nullptr) {
  int64_t cx = int64_t(std::floor(x / cell)), cy = int64_t(std::floor(y / cell));
  if (cell_hash(cx, cy, seed) >= density) return false;
  double span = cell - 2 * r;
  double px = (double(cx) * cell) + r + span * cell_hash(cx, cy, seed + 7);
  double py = (double(cy) * cell) + r + span * cell_hash(cx, cy, seed + 13);
  if (hash_out) *hash_out = cell_hash(cx, cy, seed + 21);
  return (x - px) * (x - px) + (y - py) * (y - py) < r * r;
}

}  // namespace

BackgroundPainter::BackgroundPainter(const MiniScene& scene)
    : kind_(scene.background), seed_(scene.texture_seed), horizon_(horizon_of(scene.background)) {
  feature_x_ = cell_hash(1, 0, seed_);
  shift_ = cell_hash(2, 0, seed_);
  exposure_ = 0.88 + 0.2 * cell_hash(3, 0, seed_);
  tint_ = {0.95 + 0.1 * cell_hash(4, 0, seed_), 0.95 + 0.1 * cell_hash(5, 0, seed_), 0.95 + 0.1 * cell_hash(6, 0, seed_)};
}

Rgb BackgroundPainter::at(double x, double y) const {
  const double h = horizon_;
  const bool ground = y >= h;
  // Ground-plane coordinates: depth grows towards the horizon, so textures shrink with distance.
  const double gz = ground ? 1.0 / (y - h + 0.03) : 0.0;
  const double gx = (x - 0.5) * gz;
  const uint32_t s = seed_;
  Rgb c;
  switch (kind_) {
    case Background::jungle: {
      if (!ground) {
        double n = fbm(x * 7, y * 7, s);
        c = mix({0.04, 0.22, 0.07}, {0.24, 0.55, 0.14}, n);
        if (value_noise(x * 22 + shift_ * 50, 0.3, s + 5) > 0.78) c = {0.18, 0.22, 0.08};  // vines
        if (n > 0.72) c = mix(c, {0.55, 0.75, 0.35}, 0.6);                                  // light through leaves
      } else {
        c = mix({0.10, 0.28, 0.07}, {0.30, 0.42, 0.14}, fbm(gx * 2, gz * 2, s + 3));
      }
      break;
    }
    case Background::snow: {
      if (!ground) {
        c = sky(y, h, {0.70, 0.76, 0.85}, {0.88, 0.90, 0.94});
        double cell = 0.05;
        int64_t ci = int64_t(std::floor((x + shift_) / cell));
        double tree_h = 0.06 + 0.1 * cell_hash(ci, 1, s);
        double centre = (double(ci) + 0.5) * cell - shift_;
        if (y > h - tree_h && std::fabs(x - centre) < (y - (h - tree_h)) * 0.35) c = {0.20, 0.30, 0.30};
      } else {
        c = mix({0.96, 0.97, 1.0}, {0.80, 0.85, 0.95}, 0.5 * fbm(gx * 3, gz * 3, s));
      }
      if (dot_in_cell(x, y, 0.045, 0.007, 0.35, s + 9)) c = {1.0, 1.0, 1.0};  // falling flakes
      break;
    }
    case Background::beach: {
      if (!ground) {
        c = sky(y, h);
      } else if (y < h + 0.1 + 0.008 * std::sin(x * 40 + shift_ * 6)) {
        c = mix({0.10, 0.48, 0.68}, {0.22, 0.68, 0.74}, (y - h) / 0.1);
        if (value_noise(x * 60, y * 200, s) > 0.8) c = mix(c, {0.9, 0.95, 1.0}, 0.5);
      } else if (y < h + 0.12 + 0.008 * std::sin(x * 40 + shift_ * 6)) {
        c = {0.95, 0.96, 0.94};  // foam
      } else {
        c = scaled({0.94, 0.83, 0.60}, 0.9 + 0.15 * fbm(gx * 6, gz * 6, s));
      }
      break;
    }
    case Background::cobblestone: {
      if (!ground) {
        int64_t col = int64_t(std::floor((x + shift_) / 0.2));
        const Rgb facades[3] = {{0.76, 0.60, 0.40}, {0.86, 0.78, 0.62}, {0.80, 0.55, 0.45}};
        c = facades[int(cell_hash(col, 2, s) * 3)];
        double wx = fract((x + shift_) / 0.07), wy = fract(y / 0.09);
        if (wx > 0.3 && wx < 0.7 && wy > 0.25 && wy < 0.75) c = {0.22, 0.19, 0.20};
      } else {
        double row = std::floor(gz * 1.6);
        double u = gx * 1.6 + 0.5 * std::fmod(row, 2.0);
        double fx = fract(u), fy = fract(gz * 1.6);
        double stone = 0.8 + 0.4 * cell_hash(int64_t(std::floor(u)), int64_t(row), s);
        double bulge = 1.0 - 0.35 * ((fx - 0.5) * (fx - 0.5) + (fy - 0.5) * (fy - 0.5)) * 4;
        c = scaled({0.52, 0.47, 0.42}, stone * bulge);
        if (std::min({fx, 1 - fx, fy, 1 - fy}) < 0.08) c = {0.26, 0.23, 0.20};
        c = mix({0.45, 0.41, 0.37}, c, smoothstep(0.0, 0.12, y - h));  // too fine to resolve far away
      }
      break;
    }
    case Background::pink_fabric: {
      double folds = ground ? std::sin((x * 1.3 + y) * 22 + 4 * value_noise(x * 3, y * 3, s))
                            : std::sin(x * 30 + 3 * value_noise(x * 4, y * 2, s));
      c = scaled({0.95, 0.58, 0.73}, (ground ? 0.93 : 0.82) + 0.09 * folds);
      break;
    }
    case Background::wooden_floor: {
      if (!ground) {
        c = y > h - 0.03 ? Rgb{0.95, 0.95, 0.93} : sky(y, h, {0.80, 0.76, 0.68}, {0.88, 0.84, 0.76});
      } else {
        double u = gx * 2.5 + shift_ * 3;
        double plank = std::floor(u);
        double grain = 0.92 + 0.08 * std::sin(gz * 3 + plank * 7 + 8 * value_noise(u, gz * 0.3, s));
        c = scaled({0.64, 0.41, 0.22}, (0.8 + 0.3 * cell_hash(int64_t(plank), 3, s)) * grain);
        if (fract(u) < 0.05) c = {0.30, 0.18, 0.10};
      }
      break;
    }
    case Background::city: {
      if (!ground) {
        c = sky(y, h, {0.55, 0.70, 0.92}, {0.85, 0.88, 0.93});
        int64_t far = int64_t(std::floor((x + shift_) * 9));
        if (y > h - (0.22 + 0.25 * cell_hash(far, 4, s))) c = {0.62, 0.68, 0.78};
        int64_t near = int64_t(std::floor((x + shift_) * 14));
        if (y > h - (0.10 + 0.28 * cell_hash(near, 5, s))) {
          c = scaled({0.36, 0.40, 0.48}, 0.8 + 0.4 * cell_hash(near, 6, s));
          double wx = fract(x * 70), wy = fract(y * 60);
          if (wx > 0.3 && wx < 0.8 && wy > 0.3 && wy < 0.8)
            c = cell_hash(int64_t(x * 70), int64_t(y * 60), s) > 0.5 ? Rgb{0.95, 0.85, 0.50} : Rgb{0.22, 0.25, 0.30};
        }
      } else {
        c = scaled({0.34, 0.34, 0.37}, 0.9 + 0.15 * value_noise(gx * 8, gz * 8, s));
        if (std::fabs(gx) < 0.06 && fract(gz * 0.4) < 0.5) c = {0.90, 0.90, 0.85};  // lane marks
      }
      break;
    }
    case Background::mountain: {
      if (!ground) {
        c = sky(y, h);
        double peak = 0.3 + 0.4 * feature_x_;
        double ridge = h - 0.40 * std::max(0.0, 1 - std::fabs(x - peak) * 1.7) - 0.05 * fbm(x * 8, 0, s);
        double ridge2 = h - 0.22 * std::max(0.0, 1 - std::fabs(x - peak - 0.35) * 2.2);
        if (y > ridge2) c = {0.55, 0.58, 0.68};
        if (y > ridge) {
          c = mix({0.44, 0.43, 0.52}, {0.30, 0.30, 0.38}, value_noise(x * 20, y * 20, s));
          if (y < ridge + 0.07 && ridge < h - 0.18) c = {0.95, 0.96, 1.0};  // snow cap
        }
      } else {
        c = mix({0.36, 0.54, 0.26}, {0.50, 0.60, 0.30}, fbm(gx * 3, gz * 3, s));
      }
      break;
    }
    case Background::blue_house: {
      c = ground ? mix({0.32, 0.58, 0.24}, {0.42, 0.64, 0.30}, fbm(gx * 3, gz * 3, s)) : sky(y, h);
      double left = 0.08 + 0.3 * feature_x_, right = left + 0.58, mid = (left + right) / 2;
      if (!ground && y > 0.24 && x > left && x < right) {
        c = scaled({0.20, 0.42, 0.84}, 0.93 + 0.07 * std::sin(y * 140));  // clapboard wall
        double wy = (y - 0.3) / 0.12;
        for (double wxc : {left + 0.13, right - 0.13})
          if (std::fabs(x - wxc) < 0.06 && wy > 0 && wy < 1)
            c = (std::fabs(x - wxc) > 0.045 || wy < 0.12 || wy > 0.88) ? Rgb{0.96, 0.96, 0.96} : Rgb{0.55, 0.70, 0.85};
        if (std::fabs(x - mid) < 0.045 && y > h - 0.16) c = {0.12, 0.22, 0.45};  // door
      } else if (!ground && y > 0.06 && y <= 0.24 && std::fabs(x - mid) < (y - 0.06) / 0.18 * 0.34) {
        c = {0.55, 0.20, 0.15};  // roof
      }
      break;
    }
    case Background::purple_rug: {
      if (!ground) {
        c = mix({0.08, 0.28, 0.10}, {0.30, 0.52, 0.20}, fbm(x * 6, y * 6, s));
        double u = (x + shift_) * 7;
        if (std::fabs(fract(u) - 0.5) < 0.1 + 0.06 * cell_hash(int64_t(std::floor(u)), 7, s)) c = {0.34, 0.24, 0.14};
      } else {
        c = mix({0.26, 0.32, 0.13}, {0.40, 0.36, 0.18}, fbm(gx * 3, gz * 3, s));
        double half = 0.30 + 0.38 * (y - h), edge = std::min(half - std::fabs(x - 0.5), y - (h + 0.06));
        if (edge > 0) c = edge < 0.025 ? Rgb{0.72, 0.48, 0.82} : Rgb{0.48, 0.20, 0.60};
      }
      break;
    }
    case Background::wheat_field: {
      if (!ground) {
        c = y > h - 0.03 ? Rgb{0.18, 0.32, 0.16} : sky(y, h);
      } else {
        double stalks = 0.75 + 0.3 * value_noise(x * 120, y * 6, s);
        c = scaled(mix({0.92, 0.78, 0.38}, {0.80, 0.60, 0.24}, std::clamp((y - h) * 1.6, 0.0, 1.0)), stalks);
      }
      break;
    }
    case Background::autumn_tree: {
      if (!ground) {
        c = sky(y, h, {0.60, 0.75, 0.90}, {0.86, 0.90, 0.95});
        double tx = feature_x_ < 0.5 ? 0.18 : 0.82;
        if (y > 0.3 && std::fabs(x - tx) < 0.035 + 0.03 * (y - 0.3)) c = {0.36, 0.23, 0.12};
        const double blobs[3][3] = {{0, 0.26, 0.2}, {-0.12, 0.34, 0.14}, {0.12, 0.33, 0.15}};
        for (const auto& b : blobs)
          if ((x - tx - b[0]) * (x - tx - b[0]) + (y - b[1]) * (y - b[1]) < b[2] * b[2]) {
            double n = fbm(x * 14, y * 14, s);
            c = n > 0.7 ? Rgb{0.96, 0.76, 0.15} : mix({0.92, 0.46, 0.10}, {0.74, 0.16, 0.08}, n);
          }
        if (dot_in_cell(x, y, 0.06, 0.008, 0.2, s + 11)) c = {0.90, 0.45, 0.10};  // falling leaves
      } else {
        double n = fbm(gx * 5, gz * 5, s);
        c = n > 0.62 ? Rgb{0.72, 0.20, 0.08} : mix({0.80, 0.48, 0.14}, {0.52, 0.32, 0.14}, n);
      }
      break;
    }
    case Background::eiffel_tower: {
      if (!ground) {
        c = sky(y, h, {0.58, 0.70, 0.88}, {0.93, 0.88, 0.82});
        double tx = feature_x_ < 0.5 ? 0.17 : 0.83, top = 0.05;
        double t = (y - top) / (h - top);
        double w = 0.006 + 0.15 * std::pow(std::max(t, 0.0), 2.5), d = std::fabs(x - tx);
        if (t > 0 && d < w) {
          c = {0.33, 0.27, 0.22};
          double arch = (h - y) / 0.09 - (1 - (d / w) * (d / w));
          bool lattice = d < w - 0.012 && std::fabs(std::fmod(y * 40 + d * 40, 1.0) - 0.5) < 0.18;
          if ((t > 0.78 && arch < 0) || (lattice && std::fabs(t - 0.4) > 0.04 && std::fabs(t - 0.7) > 0.04))
            c = sky(y, h, {0.58, 0.70, 0.88}, {0.93, 0.88, 0.82});
        }
      } else {
        c = std::fabs(gx) < 0.25 ? Rgb{0.80, 0.72, 0.55} : mix({0.42, 0.58, 0.28}, {0.50, 0.64, 0.32}, fbm(gx * 3, gz * 3, s));
      }
      break;
    }
    case Background::water: {
      if (!ground) {
        c = y > h - 0.025 ? Rgb{0.16, 0.32, 0.18} : sky(y, h, {0.45, 0.65, 0.90}, {0.80, 0.88, 0.95});
      } else {
        double ripple = std::sin(gz * 6 + 3 * value_noise(gx * 1.5, gz * 0.5, s));
        c = scaled(mix({0.30, 0.55, 0.75}, {0.08, 0.30, 0.55}, std::clamp((y - h) * 2.5, 0.0, 1.0)), 0.92 + 0.08 * ripple);
        if (value_noise(gx * 4, gz * 2, s + 1) > 0.82) c = mix(c, {0.9, 0.95, 1.0}, 0.4);
      }
      break;
    }
    case Background::milk: {
      if (!ground) {
        c = sky(y, h, {0.70, 0.80, 0.95}, {0.90, 0.92, 0.96});
      } else {
        double ripple = 0.5 + 0.5 * std::sin(gz * 5 + 3 * value_noise(gx * 1.5, gz * 0.5, s));
        c = mix({0.98, 0.97, 0.93}, {0.84, 0.85, 0.88}, 0.35 * ripple);
      }
      break;
    }
    case Background::sunflowers: {
      if (!ground) {
        c = sky(y, h, {0.20, 0.50, 0.95}, {0.62, 0.80, 0.98});
      } else {
        c = scaled({0.30, 0.66, 0.18}, 0.8 + 0.3 * value_noise(x * 90, y * 8, s));
      }
      // Flowers in a band behind the object and along the sides.
      bool band = y > h - 0.06 && (y < h + 0.14 || x < 0.2 || x > 0.8);
      if (band) {
        int64_t cx = int64_t(std::floor(x / 0.1)), cy = int64_t(std::floor(y / 0.1));
        if (cell_hash(cx, cy, s + 3) < 0.7) {
          double px = double(cx) * 0.1 + 0.04 + 0.02 * cell_hash(cx, cy, s + 10);
          double py = double(cy) * 0.1 + 0.04 + 0.02 * cell_hash(cx, cy, s + 16);
          double r2 = (x - px) * (x - px) + (y - py) * (y - py);
          if (r2 < 0.038 * 0.038) c = {0.98, 0.80, 0.10};  // petals
          if (r2 < 0.016 * 0.016) c = {0.36, 0.20, 0.08};  // seed head
        }
      }
      break;
    }
    case Background::mirror: {
      Rgb wall_top{0.52, 0.53, 0.58}, wall_bottom{0.68, 0.68, 0.70};
      if (!ground) {
        c = sky(y, h, wall_top, wall_bottom);
      } else if (y < h + 0.008) {
        c = {0.88, 0.88, 0.90};  // the mirror's edge
      } else {
        c = scaled(sky(2 * h - y, h, wall_top, wall_bottom), 0.85);
        c = {c.r * 0.92, c.g * 0.96, c.b * 1.02};
        double sheen = x - (y - h) * 0.8 - 0.1 - 0.6 * feature_x_;
        c = mix(c, {1.0, 1.0, 1.0}, 0.25 * std::exp(-sheen * sheen / 0.003));
      }
      break;
    }
    case Background::sidewalk: {
      if (!ground) {
        int64_t col = int64_t(std::floor((x + shift_) / 0.16));
        const Rgb facades[4] = {{0.62, 0.26, 0.20}, {0.30, 0.40, 0.56}, {0.76, 0.70, 0.60}, {0.36, 0.50, 0.36}};
        c = facades[int(cell_hash(col, 8, s) * 4)];
        if (y > h - 0.17) c = fract((x + shift_) / 0.16) < 0.08 ? Rgb{0.2, 0.2, 0.2} : Rgb{0.55, 0.65, 0.70};
        else if (fract((x + shift_) / 0.06) > 0.4 && fract(y / 0.08) > 0.4) c = {0.25, 0.25, 0.30};
      } else {
        c = scaled({0.73, 0.71, 0.67}, 0.95 + 0.08 * value_noise(gx * 10, gz * 10, s));
        if (fract(gx * 1.2) < 0.04 || fract(gz * 0.8) < 0.05) c = {0.55, 0.53, 0.50};
      }
      // The crowd: people standing just beyond the object, one per narrow column.
      int64_t pc = int64_t(std::floor((x + shift_) / 0.045));
      if (cell_hash(pc, 9, s) > 0.2) {
        double px = (double(pc) + 0.5) * 0.045 - shift_ + 0.01 * (cell_hash(pc, 10, s) - 0.5);
        double feet = h + 0.02 + 0.07 * cell_hash(pc, 11, s), tall = 0.20 + 0.10 * cell_hash(pc, 12, s);
        double head_y = feet - tall + 0.018;
        const Rgb clothes[5] = {{0.15, 0.15, 0.18}, {0.70, 0.15, 0.15}, {0.20, 0.30, 0.60}, {0.85, 0.80, 0.70}, {0.25, 0.45, 0.30}};
        if (std::fabs(x - px) < 0.016 && y > head_y + 0.02 && y < feet) c = clothes[int(cell_hash(pc, 13, s) * 5)];
        if ((x - px) * (x - px) + (y - head_y) * (y - head_y) < 0.017 * 0.017) c = {0.80, 0.62, 0.48};
      }
      break;
    }
    case Background::dirt_road: {
      if (!ground) {
        c = sky(y, h);
        if (y > h - 0.04 - 0.03 * value_noise(x * 6, 0, s)) c = {0.40, 0.55, 0.35};
      } else {
        double t = (y - h) / (1 - h);
        double centre = 0.5 + (shift_ - 0.5) * 0.3 * (1 - t), half = 0.02 + 0.55 * (y - h);
        double d = std::fabs(x - centre) / half;
        if (d < 1) {
          c = scaled({0.58, 0.43, 0.27}, 0.85 + 0.25 * fbm(gx * 4, gz * 4, s));
          if (std::fabs(d - 0.45) < 0.08) c = scaled(c, 0.8);  // ruts
        } else {
          c = mix({0.32, 0.54, 0.22}, {0.45, 0.60, 0.28}, fbm(gx * 3, gz * 3, s));
        }
      }
      break;
    }
    case Background::white_rug: {
      if (!ground) {
        c = sky(y, h, {0.70, 0.64, 0.58}, {0.78, 0.72, 0.66});
      } else {
        c = fract(gx * 2) < 0.04 ? Rgb{0.25, 0.16, 0.10} : Rgb{0.42, 0.28, 0.17};
        double half = 0.32 + 0.42 * (y - h);
        if (std::fabs(x - 0.5) < half && y > h + 0.05)
          c = scaled({0.97, 0.96, 0.93}, 0.88 + 0.12 * value_noise(x * 60, y * 60, s));
      }
      break;
    }
  }
  return {std::clamp(c.r * tint_.r * exposure_, 0.0, 1.0), std::clamp(c.g * tint_.g * exposure_, 0.0, 1.0),
          std::clamp(c.b * tint_.b * exposure_, 0.0, 1.0)};
}

}  // namespace pbench::mini
