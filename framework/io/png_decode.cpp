// PNG through libpng (framework/io/image_decoders.hpp). libpng reports errors by calling our
// error function, which longjmps back to decode_png's setjmp; everything that must survive the
// jump (libpng's structs, the image, its row pointers) lives in a heap object that the one
// local pointer owns, so no local is modified between setjmp and longjmp (C's rule for what
// keeps its value across the jump).
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "framework/io/image_decoders.hpp"
#include "framework/util/errors.hpp"

namespace pbench {
namespace {

struct PngState {
  const uint8_t* data = nullptr;
  size_t size = 0, at = 0;
  char message[256] = "unknown error";
  png_structp png = nullptr;
  png_infop info = nullptr;
  Image image;
  std::vector<png_bytep> rows;
  ~PngState() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message ? message : "unknown error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // benign (an ancillary chunk's CRC, say): decoding goes on

void read_png_bytes(png_structp png, png_bytep out, size_t count) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (count > state->size - state->at)
    png_error(png, "the file ends inside the PNG's data: it is truncated, or a chunk claims more bytes than the file has");
  std::memcpy(out, state->data + state->at, count);
  state->at += count;
}

}  // namespace

bool has_png_signature(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0;
}

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& name, bool header_only) {
  const auto state = std::make_unique<PngState>();
  PngState* s = state.get();
  s->data = bytes.data();
  s->size = bytes.size();
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, on_png_error, on_png_warning);
  if (!s->png) throw std::bad_alloc();
  s->info = png_create_info_struct(s->png);
  if (!s->info) throw std::bad_alloc();
  if (setjmp(png_jmpbuf(s->png))) throw InputError(name + ": cannot decode as a PNG (" + s->message + ")");
  png_set_read_fn(s->png, s, read_png_bytes);
  png_set_user_limits(s->png, 0x7fffffff, 0x7fffffff);  // the size check is ours, below, with its own message
  png_read_info(s->png, s->info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(s->png, s->info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  check_image_size(width, height, name);
  s->image.width = int(width);
  s->image.height = int(height);
  if (header_only) return std::move(s->image);
  // To 8-bit RGB as PIL's convert("RGB"): palette and low-bit grey expanded, 16 bits cut to
  // the high byte, alpha dropped, grey copied to three channels.
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
  if (bit_depth == 16) png_set_strip_16(s->png);
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(s->png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(s->png);
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  if (png_get_channels(s->png, s->info) != 3 || png_get_rowbytes(s->png, s->info) != size_t(width) * 3)
    throw InputError(name + ": cannot decode as a PNG (its pixel format does not convert to 8-bit RGB)");
  s->image.rgb.resize(size_t(width) * size_t(height) * 3);
  s->rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) s->rows[y] = s->image.pixel(0, int(y));
  png_read_image(s->png, s->rows.data());
  // No png_read_end: chunks after the image data do not change its pixels.
  return std::move(s->image);
}

}  // namespace pbench
