#include "tests/support/test_paths.hpp"

namespace pbench::test {

std::filesystem::path source_dir() { return PBENCH_SOURCE_DIR; }
std::filesystem::path test_bin_dir() { return PBENCH_TEST_BIN_DIR; }
std::filesystem::path binary_dir() { return PBENCH_BINARY_DIR; }

}  // namespace pbench::test
