// Keeps the torch object library non-empty before any model lands, so the
// precompiled header is always built once and reused.
#include <torch/version.h>
namespace pbench {
const char* torch_version_string() { return TORCH_VERSION; }
}  // namespace pbench
