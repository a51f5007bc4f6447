#pragma once
// SHA-256 (FIPS 180-4). Used for run ids; small enough not to need OpenSSL.
#include <string>
#include <string_view>

namespace pbench {
// Lower-case hex digest of the bytes of `data`.
std::string sha256_hex(std::string_view data);
}  // namespace pbench
