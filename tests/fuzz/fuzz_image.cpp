// libFuzzer target: the image decoders (framework/io/image_decoders.hpp: libjpeg-turbo, libpng) on arbitrary
// bytes, then the crop and resize the datasets apply. A file that is not a decodable JPEG or
// PNG (or claims a huge size) must end in InputError.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "framework/io/image.hpp"
#include "framework/util/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pbench::Image image = pbench::decode_image_memory(std::vector<uint8_t>(data, data + size), "fuzz input");
    if (image.rgb.size() != size_t(image.width) * size_t(image.height) * 3) __builtin_trap();
    pbench::Image small = pbench::resize_image(pbench::center_crop_square(image), 8, 8);
    if (small.rgb.size() != 8 * 8 * 3) __builtin_trap();
  } catch (const pbench::InputError&) {
  }
  return 0;
}
