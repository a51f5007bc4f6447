#include "framework/workloads/personalize/sample_cache.hpp"

#include <unistd.h>

#include <fstream>
#include <ostream>
#include <vector>

#include "framework/io/image.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/personalize/setup.hpp"

namespace fs = std::filesystem;

namespace pbench::personalize {

torch::Tensor cached_samples(const fs::path& dir, int64_t count, const std::function<torch::Tensor()>& sample,
                             const std::string& what, std::ostream& log) {
  std::error_code ec;
  if (fs::exists(dir / "done", ec)) {
    std::vector<Image> images;
    for (int64_t i = 0; i < count; ++i) images.push_back(decode_image_file(dir / (std::to_string(i) + ".png")));
    log << "[personalize] " << count << " " << what << " from the cache " << dir.string() << "\n";
    return images_u8(images);
  }
  log << "[personalize] sampling " << count << " " << what << " with the frozen model\n";
  torch::Tensor images = sample();
  const fs::path tmp = dir.string() + ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    log << "[personalize] cannot cache in " << tmp.string() << " (" << ec.message() << "); not cached\n";
    return images;
  }
  for (int64_t i = 0; i < images.size(0); ++i) write_png(tmp / (std::to_string(i) + ".png"), image_at(images, i));
  std::ofstream(tmp / "done") << what << "\n";
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another run cached it first: theirs is identical
  return images;
}

}  // namespace pbench::personalize
