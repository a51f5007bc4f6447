#include "framework/report/canvas.hpp"

#include <stb_easy_font.h>  // header-only, all-static: nothing to link (unlike stb_image)

#include <algorithm>
#include <cmath>
#include <vector>

namespace pbench::report {

Color palette(size_t index) {
  static const Color colors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                 {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return colors[index % 10];
}

Color lighten(Color c, double amount) {
  auto mix = [amount](uint8_t v) { return uint8_t(std::lround(v + (255 - v) * amount)); };
  return {mix(c.r), mix(c.g), mix(c.b)};
}

Marker marker_for(size_t index) {
  static const Marker markers[] = {Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond, Marker::Cross};
  return markers[index % 5];
}

Canvas::Canvas(int width, int height, Color bg) {
  image_.width = width;
  image_.height = height;
  image_.rgb.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < image_.rgb.size(); i += 3) {
    image_.rgb[i] = bg.r;
    image_.rgb[i + 1] = bg.g;
    image_.rgb[i + 2] = bg.b;
  }
  unclip();
}

void Canvas::clip(int x0, int y0, int x1, int y1) {
  cx0_ = std::max(0, x0);
  cy0_ = std::max(0, y0);
  cx1_ = std::min(width(), x1);
  cy1_ = std::min(height(), y1);
}

void Canvas::unclip() { clip(0, 0, width(), height()); }

void Canvas::set(int x, int y, Color c) {
  if (x < cx0_ || y < cy0_ || x >= cx1_ || y >= cy1_) return;
  uint8_t* p = image_.pixel(x, y);
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Color c) {
  for (int y = std::max(y0, cy0_); y < std::min(y1, cy1_); ++y)
    for (int x = std::max(x0, cx0_); x < std::min(x1, cx1_); ++x) set(x, y, c);
}

void Canvas::rect_outline(int x0, int y0, int x1, int y1, Color c) {
  fill_rect(x0, y0, x1, y0 + 1, c);
  fill_rect(x0, y1 - 1, x1, y1, c);
  fill_rect(x0, y0, x0 + 1, y1, c);
  fill_rect(x1 - 1, y0, x1, y1, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Color c, int thickness) {
  // Stamping a square every half pixel is slow but simple and exact enough for plots.
  double len = std::hypot(x1 - x0, y1 - y0);
  int steps = std::max(1, int(std::ceil(len * 2)));
  int lo = -(thickness - 1) / 2, hi = thickness / 2;
  for (int i = 0; i <= steps; ++i) {
    double t = double(i) / steps;
    int x = int(std::lround(x0 + (x1 - x0) * t)), y = int(std::lround(y0 + (y1 - y0) * t));
    for (int dy = lo; dy <= hi; ++dy)
      for (int dx = lo; dx <= hi; ++dx) set(x + dx, y + dy, c);
  }
}

void Canvas::dashed_line(double x0, double y0, double x1, double y1, Color c, int dash) {
  double len = std::hypot(x1 - x0, y1 - y0);
  for (double s = 0; s < len; s += 2.0 * dash) {
    double e = std::min(len, s + dash);
    line(x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * e / len, y0 + (y1 - y0) * e / len, c);
  }
}

void Canvas::marker(double xf, double yf, Marker m, int size, Color c) {
  int x = int(std::lround(xf)), y = int(std::lround(yf)), r = size;
  switch (m) {
    case Marker::Circle:
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx)
          if (dx * dx + dy * dy <= r * r) set(x + dx, y + dy, c);
      break;
    case Marker::Square: fill_rect(x - r + 1, y - r + 1, x + r, y + r, c); break;
    case Marker::Diamond:
      for (int dy = -r; dy <= r; ++dy)
        for (int dx = -r; dx <= r; ++dx)
          if (std::abs(dx) + std::abs(dy) <= r) set(x + dx, y + dy, c);
      break;
    case Marker::Triangle:
      for (int dy = -r; dy <= r; ++dy) {
        int half = (dy + r) / 2;  // widens downwards: an upward-pointing triangle
        for (int dx = -half; dx <= half; ++dx) set(x + dx, y + dy, c);
      }
      break;
    case Marker::Cross:
      line(x - r, y - r, x + r, y + r, c, 2);
      line(x - r, y + r, x + r, y - r, c, 2);
      break;
  }
}

namespace {
struct EasyFontVertex {
  float x, y, z;
  unsigned char color[4];
};

// Quads of stb_easy_font for `s`, in font units (x right, y down).
std::vector<EasyFontVertex> font_quads(const std::string& s) {
  std::vector<char> buf(s.begin(), s.end());
  buf.push_back('\0');
  std::vector<EasyFontVertex> verts(s.size() * 80 + 16);
  int quads = stb_easy_font_print(0, 0, buf.data(), nullptr, verts.data(), int(verts.size() * sizeof(EasyFontVertex)));
  verts.resize(size_t(quads) * 4);
  return verts;
}

std::string ascii_only(const std::string& s) {
  // The font is ASCII; a UTF-8 sequence prints as one '?' instead of garbage.
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += char(c);
    } else if ((c & 0xC0) != 0x80) {
      out += '?';
    }
  }
  return out;
}
}  // namespace

int text_width(const std::string& s, int scale) {
  std::string a = ascii_only(s);
  std::vector<char> buf(a.begin(), a.end());
  buf.push_back('\0');
  return stb_easy_font_width(buf.data()) * scale;
}

int text_height(int scale) { return 8 * scale; }  // glyphs span rows 0..7 (descenders included)

std::string fit_text(const std::string& s, int max_width, int scale) {
  if (text_width(s, scale) <= max_width) return s;
  std::string a = ascii_only(s);
  while (!a.empty() && text_width(a + "...", scale) > max_width) a.pop_back();
  return a + "...";
}

void Canvas::text(int x, int y, const std::string& s, Color c, int scale) {
  std::vector<EasyFontVertex> v = font_quads(ascii_only(s));
  for (size_t q = 0; q + 3 < v.size(); q += 4) {
    // Quads are axis-aligned: corners 0 and 2 span the rectangle.
    int qx0 = int(std::lround(v[q].x * scale)), qy0 = int(std::lround(v[q].y * scale));
    int qx1 = int(std::lround(v[q + 2].x * scale)), qy1 = int(std::lround(v[q + 2].y * scale));
    fill_rect(x + std::min(qx0, qx1), y + std::min(qy0, qy1), x + std::max(qx0, qx1), y + std::max(qy0, qy1), c);
  }
}

void Canvas::text_vertical(int x, int y, const std::string& s, Color c, int scale) {
  int w = text_width(s, scale), h = text_height(scale);
  Canvas tmp(w, h, kWhite);
  tmp.text(0, 0, s, kBlack, scale);
  // Counter-clockwise: the text's left end goes to the bottom.
  for (int ty = 0; ty < h; ++ty)
    for (int tx = 0; tx < w; ++tx)
      if (tmp.image().pixel(tx, ty)[0] == 0) set(x + ty, y + (w - 1 - tx), c);
}

void Canvas::blit(const Image& img, int x, int y) {
  for (int iy = 0; iy < img.height; ++iy)
    for (int ix = 0; ix < img.width; ++ix) {
      const uint8_t* p = img.pixel(ix, iy);
      set(x + ix, y + iy, Color{p[0], p[1], p[2]});
    }
}

}  // namespace pbench::report
