#include "framework/io/png_inflate_bound.hpp"

#include <zlib.h>

#include <array>
#include <cctype>
#include <cstring>

#include "framework/util/errors.hpp"

namespace pbench {
namespace {
uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

int channels_of(int color_type) {
  switch (color_type) {
    case 0: return 1;  // grey
    case 2: return 3;  // RGB
    case 3: return 1;  // palette index
    case 4: return 2;  // grey + alpha
    case 6: return 4;  // RGBA
    default: return 0;
  }
}
}  // namespace

uint64_t png_inflated_limit(uint32_t width, uint32_t height, int bit_depth, int color_type, bool interlaced) {
  const int channels = channels_of(color_type);
  if (width == 0 || height == 0 || channels == 0 || bit_depth < 1 || bit_depth > 16) return 0;
  const uint64_t row_bits = uint64_t(width) * uint64_t(channels) * uint64_t(bit_depth);
  const uint64_t plain = uint64_t(height) * (1 + (row_bits + 7) / 8);
  if (!interlaced) return plain;
  // Adam7's seven passes hold the same pixels in at most 2 x height rows (passes 1-6 take
  // at most height rows together, pass 7 half of them), each with its filter byte and at
  // most one byte of padding.
  return plain + 2 * (2 * uint64_t(height) + 7);
}

void check_png_inflate_bound(const std::vector<uint8_t>& bytes, const std::string& name) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 + 25 || std::memcmp(bytes.data(), kSignature, 8) != 0) return;
  const uint8_t* ihdr = bytes.data() + 8;
  if (big_endian_u32(ihdr) != 13 || std::memcmp(ihdr + 4, "IHDR", 4) != 0) return;  // the decoder says why
  const uint64_t limit = png_inflated_limit(big_endian_u32(ihdr + 8), big_endian_u32(ihdr + 12), ihdr[16], ihdr[17],
                                            ihdr[20] != 0);
  if (limit == 0) return;

  z_stream z{};
  if (inflateInit(&z) != Z_OK) return;
  std::array<uint8_t, 1 << 16> sink;
  uint64_t produced = 0;
  bool refused = false, ended = false;
  size_t at = 8;
  while (!refused && at + 12 <= bytes.size()) {
    const uint32_t length = big_endian_u32(bytes.data() + at);
    const uint8_t* type = bytes.data() + at + 4;
    // libstb grows its IDAT buffer to a chunk's claimed length before reading the chunk (the
    // fuzzer's 2 GiB realloc): a chunk that claims bytes past the end of the file is refused.
    if (length > bytes.size() - at - 12) {
      inflateEnd(&z);
      std::string label(reinterpret_cast<const char*>(type), 4);
      for (char c : label)
        if (!std::isalpha(static_cast<unsigned char>(c))) label = "?";  // a fuzzed type is no text
      throw InputError(name + ": a PNG chunk ('" + label + "') claims " +
                       std::to_string(length) + " bytes, past the end of the file (" + std::to_string(bytes.size()) +
                       " bytes): it is truncated or corrupt");
    }
    if (std::memcmp(type, "IDAT", 4) == 0 && !ended) {
      z.next_in = const_cast<Bytef*>(bytes.data() + at + 8);
      z.avail_in = length;
      while (z.avail_in > 0 && !refused) {
        z.next_out = sink.data();
        z.avail_out = uInt(sink.size());
        const int rc = inflate(&z, Z_NO_FLUSH);
        produced += sink.size() - z.avail_out;
        if (produced > limit) refused = true;
        if (rc == Z_STREAM_END) {
          ended = true;
          break;
        }
        if (rc != Z_OK) {
          ended = true;  // corrupt data or a stream needing a dictionary: the decoder's error
          break;
        }
      }
    } else if (std::memcmp(type, "IEND", 4) == 0) {
      break;
    }
    at += 12 + size_t(length);
  }
  inflateEnd(&z);
  if (refused)
    throw InputError(name + ": the PNG's image data inflates past the " + std::to_string(limit) +
                     " bytes its header allows (" + std::to_string(big_endian_u32(ihdr + 8)) + " x " +
                     std::to_string(big_endian_u32(ihdr + 12)) + " pixels); the file is corrupt");
}

}  // namespace pbench
