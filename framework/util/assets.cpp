#include "framework/util/assets.hpp"

#include <cstdlib>

#include "framework/util/errors.hpp"

#ifndef PBENCH_DEFAULT_ASSETS_DIR
#error "PBENCH_DEFAULT_ASSETS_DIR must be defined by the build (CMakeLists.txt)"
#endif

namespace pbench {

std::filesystem::path assets_dir() {
  const char* env = std::getenv("PBENCH_ASSETS_DIR");
  std::filesystem::path dir = env && *env ? std::filesystem::path(env) : std::filesystem::path(PBENCH_DEFAULT_ASSETS_DIR);
  if (!std::filesystem::is_directory(dir))
    throw InputError(dir.string() + ": pbench assets folder not found (expected framework/assets of the pbench "
                     "source tree; set PBENCH_ASSETS_DIR to it)");
  return dir;
}

std::filesystem::path asset_path(const std::string& relative) {
  std::filesystem::path p = assets_dir() / relative;
  if (!std::filesystem::exists(p))
    throw InputError(p.string() + ": missing pbench asset (the assets folder is incomplete; set PBENCH_ASSETS_DIR)");
  return p;
}

}  // namespace pbench
