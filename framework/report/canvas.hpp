#pragma once
// A small RGB rasterizer for the report figures: rectangles, thick lines,
// markers and text (stb_easy_font's quad font, scaled by whole pixels so
// strokes stay crisp). No anti-aliasing: figures are deterministic bytes.
#include <cstdint>
#include <string>

#include "framework/io/image.hpp"

namespace pbench::report {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};
constexpr Color kBlack{0, 0, 0}, kWhite{255, 255, 255}, kGrey{128, 128, 128}, kLightGrey{225, 225, 225};
// Distinguishable series colors (the Tableau 10 palette), cycled by index.
Color palette(size_t index);
// `c` mixed with white; amount 0 = c, 1 = white (for secondary curves).
Color lighten(Color c, double amount);

enum class Marker { Circle, Square, Triangle, Cross, Diamond };
Marker marker_for(size_t index);

class Canvas {
 public:
  Canvas(int width, int height, Color background = kWhite);
  int width() const { return image_.width; }
  int height() const { return image_.height; }
  const Image& image() const { return image_; }

  void set(int x, int y, Color c);  // clipped to the canvas and the clip rectangle
  void clip(int x0, int y0, int x1, int y1);  // later drawing stays inside [x0,x1) x [y0,y1)
  void unclip();
  void fill_rect(int x0, int y0, int x1, int y1, Color c);  // [x0,x1) x [y0,y1)
  void rect_outline(int x0, int y0, int x1, int y1, Color c);
  void line(double x0, double y0, double x1, double y1, Color c, int thickness = 1);
  void dashed_line(double x0, double y0, double x1, double y1, Color c, int dash = 6);
  void marker(double x, double y, Marker m, int size, Color c);

  // Text with its top-left corner at (x, y); `scale` whole pixels per font unit.
  void text(int x, int y, const std::string& s, Color c, int scale = 1);
  // Text turned 90 degrees counter-clockwise (reads bottom to top), top-left at (x, y).
  void text_vertical(int x, int y, const std::string& s, Color c, int scale = 1);
  void blit(const Image& img, int x, int y);

 private:
  Image image_;
  int cx0_ = 0, cy0_ = 0, cx1_ = 0, cy1_ = 0;
};

int text_width(const std::string& s, int scale = 1);
int text_height(int scale = 1);  // one line

// Cuts `s` to at most `max_width` pixels, ending with "..." when cut.
std::string fit_text(const std::string& s, int max_width, int scale = 1);

}  // namespace pbench::report
