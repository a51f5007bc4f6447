#pragma once
// The mini world's object classes as signed distance functions in object space
// (y up, the object fits a sphere of radius kShapeBound around the origin and
// stands on y = -0.85). The renderer marches rays against them, so every class
// gets true 3D shading, silhouettes that change with yaw, and one code path.
#include <cmath>

#include "datasets/mini_world_vocabulary.hpp"

namespace pbench::mini {

struct Vec3 {
  double x = 0, y = 0, z = 0;
};
inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator*(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
inline double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline double length(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalize(Vec3 a) {
  double n = length(a);
  return n > 0 ? a * (1.0 / n) : a;
}

constexpr double kShapeBound = 1.4;  // bounding sphere radius of every shape (the pyramid's base corners: 1.36)
constexpr double kShapeBase = -0.85;  // where every shape touches the ground

// Signed distance (a lower bound for the few that are not exact, which is all
// ray marching needs) from p to the surface of `shape`.
double shape_distance(Shape shape, Vec3 p);

}  // namespace pbench::mini
