// JPEG through libjpeg-turbo (framework/io/image_decoders.hpp), with PIL's defaults (the
// library PIL itself decodes with): the accurate integer IDCT and fancy upsampling. libjpeg
// reports errors through error_exit, which longjmps back to decode_jpeg's setjmp; what must
// survive the jump lives in a heap object the one local pointer owns (C's setjmp rule).
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstring>
#include <memory>

#include "framework/io/image_decoders.hpp"
#include "framework/util/errors.hpp"

namespace pbench {
namespace {

// A progressive JPEG may hold any number of scans, each a pass over the whole image: a small
// file can keep the decoder busy for minutes. libjpeg-turbo's own tj3 API refuses past 500
// (TJPARAM_SCANLIMIT); real progressive files have about 10.
constexpr int kMaxScans = 500;

struct JpegState {
  jpeg_decompress_struct cinfo{};
  jpeg_error_mgr errors{};
  jpeg_progress_mgr progress{};
  std::jmp_buf jump{};
  char message[JMSG_LENGTH_MAX] = "unknown error";
  bool created = false;
  Image image;
  std::vector<uint8_t> row;  // one CMYK scanline
  ~JpegState() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

JpegState* state_of(j_common_ptr cinfo) { return static_cast<JpegState*>(cinfo->client_data); }

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  (*cinfo->err->format_message)(cinfo, state_of(cinfo)->message);
  std::longjmp(state_of(cinfo)->jump, 1);
}

// Warnings (level -1) go on, except the end of the data inside the image: libjpeg would fill
// the rest with grey and return a picture that is not the file's.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(cinfo);
}

void on_jpeg_progress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxScans) {
    std::snprintf(state_of(cinfo)->message, JMSG_LENGTH_MAX, "more than %d progressive scans", kMaxScans);
    std::longjmp(state_of(cinfo)->jump, 1);
  }
}

// stb_image's and Adobe's inverted CMYK to RGB: each channel times K, x * y / 255 rounded.
uint8_t times_k(uint8_t x, uint8_t k) {
  const unsigned t = unsigned(x) * unsigned(k) + 128;
  return uint8_t((t + (t >> 8)) >> 8);
}

}  // namespace

bool has_jpeg_signature(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;  // SOI, then a marker
}

Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, bool header_only) {
  const auto state = std::make_unique<JpegState>();
  JpegState* s = state.get();
  s->cinfo.err = jpeg_std_error(&s->errors);
  s->errors.error_exit = on_jpeg_error;
  s->errors.emit_message = on_jpeg_message;
  s->cinfo.client_data = s;
  if (setjmp(s->jump)) throw InputError(name + ": cannot decode as a JPEG (" + s->message + ")");
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  s->progress.progress_monitor = on_jpeg_progress;
  s->cinfo.progress = &s->progress;
  jpeg_mem_src(&s->cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&s->cinfo, TRUE);
  check_image_size(s->cinfo.image_width, s->cinfo.image_height, name);
  if (header_only) {
    s->image.width = int(s->cinfo.image_width);
    s->image.height = int(s->cinfo.image_height);
    return std::move(s->image);
  }
  const bool cmyk = s->cinfo.jpeg_color_space == JCS_CMYK || s->cinfo.jpeg_color_space == JCS_YCCK;
  s->cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&s->cinfo);
  const int channels = s->cinfo.output_components;
  if (channels != (cmyk ? 4 : 3))
    throw InputError(name + ": cannot decode as a JPEG (" + std::to_string(channels) + " output channels)");
  const int width = int(s->cinfo.output_width), height = int(s->cinfo.output_height);
  s->image.width = width;
  s->image.height = height;
  s->image.rgb.resize(size_t(width) * size_t(height) * 3);
  s->row.resize(size_t(width) * 4);
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    const int y = int(s->cinfo.output_scanline);
    JSAMPROW target = cmyk ? s->row.data() : s->image.pixel(0, y);
    if (jpeg_read_scanlines(&s->cinfo, &target, 1) != 1)  // cannot happen with a memory source; never loop on it
      throw InputError(name + ": cannot decode as a JPEG (no scanline at row " + std::to_string(y) + ")");
    if (!cmyk) continue;
    for (int x = 0; x < width; ++x) {
      const uint8_t* in = s->row.data() + size_t(x) * 4;
      uint8_t* out = s->image.pixel(x, y);
      for (int c = 0; c < 3; ++c) out[c] = times_k(in[c], in[3]);
    }
  }
  // No jpeg_finish_decompress: what follows the last scanline does not change the pixels.
  return std::move(s->image);
}

}  // namespace pbench
