#include "framework/io/image.hpp"

#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "framework/io/image_decoders.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

namespace {
Image decode(const std::vector<uint8_t>& bytes, const std::string& name, bool header_only) {
  if (bytes.empty()) throw InputError(name + ": empty file, expected an image (JPEG or PNG)");
  if (has_jpeg_signature(bytes)) return decode_jpeg(bytes, name, header_only);
  if (has_png_signature(bytes)) return decode_png(bytes, name, header_only);
  throw InputError(name + ": not a JPEG or PNG file (it does not start with either's signature); pbench reads JPEG "
                   "and PNG images");
}

std::vector<uint8_t> read_file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open image file");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

Image decode_image_memory(const std::vector<uint8_t>& bytes, const std::string& name) {
  return decode(bytes, name, /*header_only=*/false);
}

ImageSize image_size_of_file(const fs::path& path) {
  Image header = decode(read_file_bytes(path), path.string(), /*header_only=*/true);
  return ImageSize{header.width, header.height};
}

void check_image_size(int64_t width, int64_t height, const std::string& name) {
  if (width < 1 || height < 1 || width * height > kMaxImagePixels)
    throw InputError(name + ": " + std::to_string(width) + " x " + std::to_string(height) + " pixels claimed, " +
                     (width < 1 || height < 1 ? std::string("an empty image")
                                              : "more than " + std::to_string(kMaxImagePixels >> 20) +
                                                    " megapixels; resize the image"));
}

Image decode_image_file(const fs::path& path) { return decode(read_file_bytes(path), path.string(), false); }

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
