#pragma once
// On-disk cache of decoded, square-cropped, resized images: a sweep over the
// DreamBooth set decodes each JPEG (up to 2048²) once, not once per run.
// Entries are PNGs keyed by the file's path, size and modification time and
// the requested size; writes go through a temporary file and a rename, so
// parallel workers never read half an entry.
#include <filesystem>

#include "framework/io/image.hpp"

namespace pbench {

// The default cache folder: $PBENCH_CACHE, else $XDG_CACHE_HOME/pbench, else ~/.cache/pbench.
std::filesystem::path default_cache_dir();

// `path` center-cropped to a square and resized to size x size, from the cache
// when possible. An empty `cache_dir` disables the cache.
Image load_square_image(const std::filesystem::path& path, int size, const std::filesystem::path& cache_dir);

// The *.jpg, *.jpeg and *.png files of `folder` (any case), sorted by name; empty when none.
std::vector<std::filesystem::path> image_files_in(const std::filesystem::path& folder);

// min(width, height) of an image file from its header alone (no decode); InputError naming it otherwise.
int square_side_of(const std::filesystem::path& path);

}  // namespace pbench
