#pragma once
// A PNG's compressed image data, inflated once with a bound before libstb decodes it.
// libstb's zlib inflater grows its output buffer as long as the stream produces bytes, so a
// 187-byte PNG of 5 x 3 pixels can make it realloc 2 GiB (tests/fuzz/known_issues/image). A
// PNG's header fixes how many bytes its IDAT stream may inflate to (rows x (1 filter byte +
// the row's bytes), a little more when interlaced); anything past that is refused here, with
// the system zlib streaming into a fixed buffer, so no allocation follows the stream.
#include <cstdint>
#include <string>
#include <vector>

namespace pbench {

// The most bytes the IDAT stream of a width x height PNG of this bit depth and color type
// may inflate to (Adam7 interlacing included, as an upper bound). 0 for an invalid header.
uint64_t png_inflated_limit(uint32_t width, uint32_t height, int bit_depth, int color_type, bool interlaced);

// Nothing when `bytes` is not a PNG, or is one whose image data stays within its header's
// bound (a PNG broken in another way is left to the decoder's own message). InputError
// naming `name` when the image data inflates past the bound, or when a chunk claims more bytes
// than the file holds (libstb grows its buffer to the claim before it reads the chunk).
void check_png_inflate_bound(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace pbench
