#pragma once
// The two decoders behind decode_image_memory (framework/io/image.hpp), for bytes from anywhere
// (a user's dataset folder): JPEG through libjpeg-turbo, PNG through libpng. Both libraries
// report a corrupt file through their error callbacks, which end in InputError naming the file;
// neither aborts the process. Debian 12's libstb (stb_image 2.27) did: a malformed file could
// reach one of its assertions (the fuzzer's "deadly signal" in CI, 2026-12-06), and 2.27 has
// published memory-safety bugs in its JPEG decoder (CVE-2022-28041/28042). libstb stays for
// resizing and PNG writing, where the input is our own.
//
// Both give 8-bit RGB as PIL's `Image.open(f).convert("RGB")` does (what the reference
// training scripts read images with): grey and palette expanded, alpha dropped (not
// composited), 16-bit samples cut to their high byte. Both refuse more than kMaxImagePixels
// before allocating the image.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/io/image.hpp"

namespace pbench {

// 64 megapixels: past any photo a dataset holds, and a bound on what a small file can make
// the decoder allocate (its header's size decides the buffers).
inline constexpr int64_t kMaxImagePixels = int64_t(64) << 20;

bool has_png_signature(const std::vector<uint8_t>& bytes);
bool has_jpeg_signature(const std::vector<uint8_t>& bytes);

// The image; with `header_only`, its width and height alone (rgb empty), nothing decoded past
// the header (the datasets' size checks).
Image decode_png(const std::vector<uint8_t>& bytes, const std::string& name, bool header_only = false);
Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name, bool header_only = false);

// InputError unless width x height is at most kMaxImagePixels (shared by both decoders).
void check_image_size(int64_t width, int64_t height, const std::string& name);

}  // namespace pbench
