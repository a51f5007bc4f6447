// libFuzzer target: the safetensors reader (framework/io/safetensors) on arbitrary bytes.
// A malformed file must end in InputError; every tensor it accepts must lie inside the
// buffer (its last byte is read, so ASan sees an out-of-bounds offset).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "framework/io/safetensors.hpp"
#include "framework/util/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = pbench::safetensors::File::parse(std::vector<uint8_t>(data, data + size), "fuzz input");
    unsigned sum = 0;
    for (const auto& t : file.tensors()) {
      if (t.nbytes() != t.numel() * int64_t(pbench::safetensors::dtype_size(t.dtype))) __builtin_trap();
      if (t.nbytes() > 0) sum += file.data(t)[0] + file.data(t)[t.nbytes() - 1];
    }
    volatile unsigned keep = sum;
    (void)keep;
  } catch (const pbench::InputError&) {
  }
  return 0;
}
