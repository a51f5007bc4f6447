#include "framework/util/seeds.hpp"

#include <string>

#include "framework/util/sha256.hpp"

namespace pbench {
uint64_t derive_seed(int64_t seed, std::string_view purpose) {
  std::string hex = sha256_hex(std::to_string(seed) + ":" + std::string(purpose)).substr(0, 15);
  return std::stoull(hex, nullptr, 16);  // 60 bits: positive as int64 too
}
}  // namespace pbench
