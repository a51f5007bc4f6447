#pragma once
// 8-bit RGB images: decode (JPEG via libjpeg-turbo, PNG via libpng:
// framework/io/image_decoders.hpp), square center crop, resize and PNG encode (libstb). Torch-free so datasets, tables and tests
// share it.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pbench {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
  uint8_t* pixel(int x, int y) { return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
  const uint8_t* pixel(int x, int y) const { return rgb.data() + (size_t(y) * size_t(width) + size_t(x)) * 3; }
};

// Throws InputError naming the file when it is missing, empty, truncated, corrupt, larger
// than 64 megapixels, or not a JPEG or PNG file.
Image decode_image_file(const std::filesystem::path& path);
Image decode_image_memory(const std::vector<uint8_t>& bytes, const std::string& name);

struct ImageSize {
  int width = 0, height = 0;
};
// From the file's header alone (the pixels are not decoded); the same errors as decode_image_file.
ImageSize image_size_of_file(const std::filesystem::path& path);

// Largest centered square (DreamBooth's center crop).
Image center_crop_square(const Image& image);
// Resize with a cubic filter (Mitchell when shrinking, Catmull-Rom when enlarging).
Image resize_image(const Image& image, int width, int height);

std::vector<uint8_t> encode_png(const Image& image);
void write_png(const std::filesystem::path& path, const Image& image);

}  // namespace pbench
