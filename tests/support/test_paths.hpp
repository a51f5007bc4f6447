#pragma once
// Paths for tests, and the skip convention: a suite that needs ../shared
// exits 77 (CTest SKIP_RETURN_CODE) with a message when it is absent.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace pbench::test {

// The clone and build folders (test_paths.cpp: the one unit that carries them,
// so that every other test unit's command line is free of absolute paths and a
// clone in another folder builds it from the ccache).
std::filesystem::path source_dir();
std::filesystem::path test_bin_dir();
std::filesystem::path binary_dir();
inline std::filesystem::path fixtures_dir() { return source_dir() / "tests" / "fixtures"; }

// PBENCH_SHARED overrides; default: ../shared next to the project root.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("PBENCH_SHARED")) return env;
  return source_dir().parent_path() / "shared";
}

inline void require_shared_or_skip(const std::string& what) {
  std::filesystem::path p = shared_dir() / what;
  if (!std::filesystem::exists(p)) {
    std::cout << "SKIPPED: " << p.string() << " is absent (set PBENCH_SHARED to the shared folder)\n";
    std::exit(PBENCH_SKIP_CODE);
  }
}

// A fresh empty folder under the build tree for one test.
inline std::filesystem::path scratch_dir(const std::string& name) {
  std::filesystem::path p = binary_dir() / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

}  // namespace pbench::test
