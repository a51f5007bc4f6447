#include "framework/io/image.hpp"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "framework/io/png_inflate_bound.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

Image decode_image_memory(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) throw InputError(name + ": empty file, expected an image (JPEG or PNG)");
  int w = 0, h = 0, channels = 0;
  // The header's size first: stb would allocate w·h·4 bytes (and more while decoding) for any
  // size under its own 2^24-per-side limit, so a 200-byte file could claim gigabytes (found by
  // tests/fuzz/fuzz_image). 64 megapixels is past any photo a dataset holds.
  constexpr long long kMaxPixels = 64ll << 20;
  if (stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels) &&
      (long long)w * (long long)h > kMaxPixels)
    throw InputError(name + ": " + std::to_string(w) + " x " + std::to_string(h) + " pixels claimed, more than " +
                     std::to_string(kMaxPixels >> 20) + " megapixels; resize the image");
  check_png_inflate_bound(bytes, name);  // stb's inflater would grow without a bound
  unsigned char* data = stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels, 3);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw InputError(name + ": cannot decode as an image (" + (why ? why : "unknown reason") +
                     "); expected a JPEG or PNG file");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(data, data + size_t(w) * size_t(h) * 3);
  stbi_image_free(data);
  return img;
}

Image decode_image_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open image file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_image_memory(bytes, path.string());
}

Image center_crop_square(const Image& image) {
  int side = std::min(image.width, image.height);
  int x0 = (image.width - side) / 2, y0 = (image.height - side) / 2;
  Image out;
  out.width = out.height = side;
  out.rgb.resize(size_t(side) * size_t(side) * 3);
  for (int y = 0; y < side; ++y)
    std::copy_n(image.pixel(x0, y0 + y), size_t(side) * 3, out.pixel(0, y));
  return out;
}

Image resize_image(const Image& image, int width, int height) {
  if (width == image.width && height == image.height) return image;
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * size_t(height) * 3);
  stbir_filter filter = (width < image.width) ? STBIR_FILTER_MITCHELL : STBIR_FILTER_CATMULLROM;
  int ok = stbir_resize_uint8_generic(image.rgb.data(), image.width, image.height, 0, out.rgb.data(), width, height, 0,
                                      3, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, filter, STBIR_COLORSPACE_LINEAR,
                                      nullptr);
  if (!ok) throw std::runtime_error("image resize failed");
  return out;
}

namespace {
void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  auto* bytes = static_cast<uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}
}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, 3, image.rgb.data(), image.width * 3))
    throw std::runtime_error("PNG encoding failed");
  return out;
}

void write_png(const fs::path& path, const Image& image) {
  std::vector<uint8_t> bytes = encode_png(image);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path.string() + ": cannot write PNG (is the folder writable?)");
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace pbench
