#include <filesystem>

namespace pbench::bench {

std::filesystem::path source_dir() { return PBENCH_SOURCE_DIR; }

}  // namespace pbench::bench
