// Distance functions after Inigo Quilez's catalogue ("distance functions",
// iquilezles.org/articles/distfunctions and distfunctions2d), scaled so every
// class spans y in [-0.85, 0.85] and fits kShapeBound.
#include "datasets/mini_world_shapes.hpp"

#include <algorithm>

namespace pbench::mini {
namespace {

double sign_of(double v) { return v < 0 ? -1.0 : 1.0; }
double length2(double x, double y) { return std::sqrt(x * x + y * y); }

double box(Vec3 p, Vec3 half) {
  Vec3 q{std::fabs(p.x) - half.x, std::fabs(p.y) - half.y, std::fabs(p.z) - half.z};
  Vec3 outside{std::max(q.x, 0.0), std::max(q.y, 0.0), std::max(q.z, 0.0)};
  return length(outside) + std::min(std::max(q.x, std::max(q.y, q.z)), 0.0);
}

// A 2D distance pulled out along z to half-thickness h.
double extrude(double d2, double z, double h) {
  double wx = d2, wy = std::fabs(z) - h;
  return std::min(std::max(wx, wy), 0.0) + length2(std::max(wx, 0.0), std::max(wy, 0.0));
}

// Five-pointed star, outer radius r, inner radius ratio rf, a point upwards.
double star2d(double px, double py, double r, double rf) {
  const double k1x = 0.809016994375, k1y = -0.587785252292, k2x = -k1x, k2y = k1y;
  px = std::fabs(px);
  double d1 = std::max(k1x * px + k1y * py, 0.0);
  px -= 2 * d1 * k1x;
  py -= 2 * d1 * k1y;
  double d2 = std::max(k2x * px + k2y * py, 0.0);
  px -= 2 * d2 * k2x;
  py -= 2 * d2 * k2y;
  px = std::fabs(px);
  py -= r;
  double bax = rf * -k1y - 0.0, bay = rf * k1x - 1.0;
  double h = std::clamp((px * bax + py * bay) / (bax * bax + bay * bay), 0.0, r);
  return length2(px - bax * h, py - bay * h) * sign_of(py * bax - px * bay);
}

// Heart with its tip at the origin, about 1.1 tall and 1.2 wide.
double heart2d(double px, double py) {
  px = std::fabs(px);
  if (py + px > 1.0) return length2(px - 0.25, py - 0.75) - std::sqrt(2.0) / 4.0;
  double m = 0.5 * std::max(px + py, 0.0);
  double a = px * px + (py - 1.0) * (py - 1.0), b = (px - m) * (px - m) + (py - m) * (py - m);
  return std::sqrt(std::min(a, b)) * sign_of(px - py);
}

// Cone with its tip at the origin and base point q = (radius, -height) in (r, y).
double cone(Vec3 p, double qx, double qy) {
  double wx = length2(p.x, p.z), wy = p.y;
  double t = std::clamp((wx * qx + wy * qy) / (qx * qx + qy * qy), 0.0, 1.0);
  double ax = wx - qx * t, ay = wy - qy * t;
  double bx = wx - qx * std::clamp(wx / qx, 0.0, 1.0), by = wy - qy;
  double k = sign_of(qy);
  double d = std::min(ax * ax + ay * ay, bx * bx + by * by);
  double s = std::max(k * (wx * qy - wy * qx), k * (wy - qy));
  return std::sqrt(d) * sign_of(s);
}

// Square pyramid as the intersection of its five planes (a lower bound outside).
double pyramid(Vec3 p, double half_base, double y_base, double y_apex) {
  double h = y_apex - y_base;
  double n = std::sqrt(h * h + half_base * half_base);
  double side = (h * std::max(std::fabs(p.x), std::fabs(p.z)) + half_base * (p.y - y_apex)) / n;
  return std::max(side, y_base - p.y);
}

}  // namespace

double shape_distance(Shape shape, Vec3 p) {
  switch (shape) {
    case Shape::cube: return box(p - Vec3{0, -0.13, 0}, {0.66, 0.66, 0.66}) - 0.06;
    case Shape::ball: return length(p) - 0.85;
    case Shape::cone: return cone(p - Vec3{0, 0.9, 0}, 0.75, -1.75);
    case Shape::cylinder: {
      double dx = length2(p.x, p.z) - 0.56, dy = std::fabs(p.y) - 0.81;
      return std::min(std::max(dx, dy), 0.0) + length2(std::max(dx, 0.0), std::max(dy, 0.0)) - 0.04;
    }
    case Shape::ring: return length2(length2(p.x, p.y) - 0.58, p.z) - 0.27;
    case Shape::star: return extrude(star2d(p.x, p.y + 0.08, 0.92, 0.45), p.z, 0.18) - 0.04;
    case Shape::pyramid: return pyramid(p, 0.75, -0.85, 0.85);
    case Shape::capsule: return length(Vec3{p.x, p.y - std::clamp(p.y, -0.4, 0.4), p.z}) - 0.45;
    case Shape::heart: {
      const double k = 1.5;
      return extrude(heart2d(p.x / k, (p.y + 0.85) / k) * k + 0.05, p.z, 0.2) - 0.05;
    }
    case Shape::cross: {
      double upright = box(p, {0.22, 0.81, 0.22}), bar = box(p - Vec3{0, 0.12, 0}, {0.64, 0.22, 0.22});
      return std::min(upright, bar) - 0.04;
    }
  }
  return length(p) - 0.85;
}

}  // namespace pbench::mini
