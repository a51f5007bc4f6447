#include "framework/io/image_cache.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "framework/util/errors.hpp"
#include "framework/util/sha256.hpp"

namespace fs = std::filesystem;

namespace pbench {

fs::path default_cache_dir() {
  if (const char* p = std::getenv("PBENCH_CACHE")) return p;
  if (const char* p = std::getenv("XDG_CACHE_HOME")) return fs::path(p) / "pbench";
  if (const char* p = std::getenv("HOME")) return fs::path(p) / ".cache" / "pbench";
  return fs::temp_directory_path() / "pbench-cache";
}

namespace {
// Bump when the decode, crop or resize changes, so old entries are never reused (v2: JPEG decoded
// by libjpeg-turbo instead of libstb, whose IDCT and upsampling round differently).
constexpr const char* kCacheVersion = "square-crop-cubic-v2";

fs::path entry_path(const fs::path& source, int size, const fs::path& cache_dir) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(source, ec);
  auto bytes = fs::file_size(source, ec);
  auto mtime = fs::last_write_time(source, ec).time_since_epoch().count();
  std::string key = sha256_hex(canonical.string() + "|" + std::to_string(bytes) + "|" + std::to_string(mtime) + "|" +
                               std::to_string(size) + "|" + kCacheVersion);
  return cache_dir / "images" / key.substr(0, 2) / (key + ".png");
}
}  // namespace

Image load_square_image(const fs::path& path, int size, const fs::path& cache_dir) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError(path.string() + ": image file not found");
  fs::path entry = cache_dir.empty() ? fs::path() : entry_path(path, size, cache_dir);
  if (!entry.empty() && fs::is_regular_file(entry, ec)) {
    try {
      Image cached = decode_image_file(entry);
      if (cached.width == size && cached.height == size) return cached;
    } catch (const InputError&) {
      // A damaged entry is rebuilt below.
    }
  }
  Image image = resize_image(center_crop_square(decode_image_file(path)), size, size);
  if (!entry.empty()) {
    fs::create_directories(entry.parent_path(), ec);
    fs::path tmp = entry.string() + ".tmp" + std::to_string(getpid());
    try {
      write_png(tmp, image);
      fs::rename(tmp, entry, ec);
    } catch (const std::exception&) {
      // The cache is an optimisation: a read-only cache folder must not fail the run.
    }
    fs::remove(tmp, ec);
  }
  return image;
}

std::vector<fs::path> image_files_in(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    std::string ext = e.path().extension().string();
    for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

int square_side_of(const fs::path& path) {
  const ImageSize size = image_size_of_file(path);
  return std::min(size.width, size.height);
}

}  // namespace pbench
