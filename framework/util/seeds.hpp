#pragma once
// Every random stream of a run derives from the run's `seed` and a fixed
// purpose tag ("noise", "dvar.batch", ...), never from the run id, so adding
// a new stream never shifts an existing one.
#include <cstdint>
#include <string_view>

namespace pbench {
uint64_t derive_seed(int64_t seed, std::string_view purpose);
}  // namespace pbench
