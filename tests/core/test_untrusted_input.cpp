// Inputs that would make a third-party library pbench links loop or allocate without a bound
// (issue 41, class 5): each is refused with one line, and the process lives on.
#define BOOST_TEST_MODULE untrusted_input
#include <boost/test/unit_test.hpp>

#include <stb_image_write.h>
#include <zlib.h>

#include <fstream>
#include <iterator>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/io/image.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;


namespace {
std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string message_of(const std::vector<uint8_t>& bytes) {
  try {
    decode_image_memory(bytes, "x.png");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(uint8_t(v >> shift));
}

// A PNG of `width` x `height` RGB pixels whose IDAT holds `raw` (already filtered rows) deflated.
std::vector<uint8_t> png_with_raw(uint32_t width, uint32_t height, const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    put_u32(out, uint32_t(data.size()));
    std::vector<uint8_t> typed(type, type + 4);
    typed.insert(typed.end(), data.begin(), data.end());
    out.insert(out.end(), typed.begin(), typed.end());
    put_u32(out, uint32_t(crc32(0, typed.data(), uInt(typed.size()))));
  };
  std::vector<uint8_t> ihdr;
  put_u32(ihdr, width);
  put_u32(ihdr, height);
  for (uint8_t b : {8, 2, 0, 0, 0}) ihdr.push_back(b);  // 8 bits, RGB, deflate, no filter method, no interlace
  chunk("IHDR", ihdr);
  uLongf size = compressBound(uLong(raw.size()));
  std::vector<uint8_t> packed(size);
  compress(packed.data(), &size, raw.data(), uLong(raw.size()));
  packed.resize(size);
  chunk("IDAT", packed);
  chunk("IEND", {});
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_png_decodes_exactly_its_headers_pixels_and_no_more) {
  // libpng reads the rows the header declares and stops: data past them is never inflated, so
  // a stream of zeros claiming a few pixels costs what those pixels cost.
  std::vector<uint8_t> rows(3 * 16, 0);  // 3 rows of filter byte 0 + 5 RGB pixels
  rows[1] = 200;
  const std::vector<uint8_t> good = png_with_raw(5, 3, rows);
  Image img = decode_image_memory(good, "good.png");
  BOOST_TEST(img.width == 5);
  BOOST_TEST(img.height == 3);
  BOOST_TEST(int(img.rgb[0]) == 200);
  BOOST_TEST(int(img.rgb[1]) == 0);
  BOOST_TEST(decode_image_memory(png_with_raw(5, 3, std::vector<uint8_t>(64 << 20, 0)), "zeros.png").width == 5);
  // Too few rows: one line naming the file, not a picture padded with zeros.
  const std::string why = message_of(png_with_raw(5, 3, std::vector<uint8_t>(rows.begin(), rows.begin() + 16)));
  BOOST_TEST(why.find("x.png: cannot decode as a PNG (") == 0, why);
}

BOOST_AUTO_TEST_CASE(only_jpeg_and_png_are_decoded) {
  // stb would have read BMP, GIF, TGA, PSD, HDR, PIC and PNM too; the datasets take *.jpg,
  // *.jpeg and *.png, so no other decoder sees a user's bytes.
  const std::vector<uint8_t> bmp = {'B', 'M', 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0};
  const std::string why = message_of(bmp);
  BOOST_TEST(why.find("x.png: not a JPEG or PNG file") == 0, why);
  BOOST_TEST(message_of({0xFF, 0xD8, 0xFF}).find("x.png: cannot decode as a JPEG (") == 0);
  BOOST_TEST(message_of({0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0}).find("cannot decode as a JPEG") !=
             std::string::npos);
}

namespace {
void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}
// A JPEG of `channels` (1 or 3) smooth ramps written by libstb's encoder at quality 95.
std::vector<uint8_t> jpeg_of(int width, int height, int channels, std::vector<uint8_t>& pixels) {
  pixels.clear();
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) pixels.push_back(uint8_t(40 + 4 * x + 3 * y + 30 * c));
  std::vector<uint8_t> out;
  BOOST_REQUIRE(stbi_write_jpg_to_func(append_bytes, &out, width, height, channels, pixels.data(), 95));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_jpeg_decodes_to_its_pixels_within_its_quantization) {
  // Another encoder's file (libstb's), read by libjpeg-turbo: every pixel within the few
  // levels quality 95 loses on smooth ramps; grey comes back as three equal channels.
  std::vector<uint8_t> rgb, grey;
  Image colour = decode_image_memory(jpeg_of(24, 16, 3, rgb), "ramp.jpg");
  BOOST_TEST(colour.width == 24);
  BOOST_TEST(colour.height == 16);
  int worst = 0;
  for (size_t i = 0; i < rgb.size(); ++i) worst = std::max(worst, std::abs(int(colour.rgb[i]) - int(rgb[i])));
  BOOST_TEST(worst <= 6);
  // The header alone gives the size (the datasets' check), from a file.
  const std::filesystem::path file = test::scratch_dir("jpeg_header") / "ramp.jpg";
  {
    const std::vector<uint8_t> bytes = jpeg_of(24, 16, 3, rgb);
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  BOOST_TEST(image_size_of_file(file).width == 24);
  BOOST_TEST(image_size_of_file(file).height == 16);
  Image mono = decode_image_memory(jpeg_of(9, 7, 1, grey), "grey.jpg");
  worst = 0;
  for (size_t i = 0; i < grey.size(); ++i) {
    BOOST_TEST((mono.rgb[3 * i] == mono.rgb[3 * i + 1] && mono.rgb[3 * i] == mono.rgb[3 * i + 2]));
    worst = std::max(worst, std::abs(int(mono.rgb[3 * i]) - int(grey[i])));
  }
  BOOST_TEST(worst <= 6);
  // Cut short inside the image data: one line naming the file, not a picture padded with grey.
  std::vector<uint8_t> cut = jpeg_of(24, 16, 3, rgb);
  cut.resize(cut.size() * 2 / 3);
  const std::string why = message_of(cut);
  BOOST_TEST(why.find("x.png: cannot decode as a JPEG (") == 0, why);
}

BOOST_AUTO_TEST_CASE(a_png_claiming_more_than_64_megapixels_is_refused_before_allocating) {
  const std::string why = message_of(png_with_raw(100000, 100000, std::vector<uint8_t>(16, 0)));
  BOOST_TEST(why.find("x.png: 100000 x 100000 pixels claimed, more than 64 megapixels") == 0, why);
}

BOOST_AUTO_TEST_CASE(the_fuzzers_2_gib_png_is_one_line) {
  // tests/fuzz/regressions/image: 187 bytes that made libstb's inflater realloc 2 GiB (its IDAT
  // claims 1.8 GB); libpng reads chunks as it goes and meets the end of the file.
  const auto bytes = read_bytes(test::source_dir() / "tests/fuzz/regressions/image/stb_inflate_realloc_2gib");
  BOOST_REQUIRE(bytes.size() == 187u);
  const std::string why = message_of(bytes);
  BOOST_TEST(why.find("x.png: ") == 0, why);
  BOOST_TEST(why.find('\n') == std::string::npos, why);
}

// ---- yaml-cpp 0.7's endless parse ----------------------------------------------------

BOOST_AUTO_TEST_CASE(the_yaml_text_that_hangs_yaml_cpp_is_one_line) {
  // The fuzzer's input: an override line, then 98 bytes of YAML on which yaml-cpp 0.7's
  // LoadAll never returns and grows past 2 GiB.
  const auto bytes = read_bytes(test::source_dir() / "tests/fuzz/regressions/config/yaml_cpp_hang_unbounded_memory");
  const std::string input(bytes.begin(), bytes.end());
  const std::string yaml = input.substr(input.find('\n') + 1);
  const auto start = std::chrono::steady_clock::now();
  try {
    cfg::parse_yaml_text(yaml, cfg::Origin{"typo.yaml", 0});
    BOOST_FAIL("expected an InputError");
  } catch (const InputError& e) {
    const std::string why = e.what();
    BOOST_TEST(why.find("typo.yaml: invalid YAML: more than 200002 parse events") == 0, why);
    BOOST_TEST(why.find('\n') == std::string::npos, why);
  }
  BOOST_TEST(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 10.0);  // ~0.1 s
  // Well-formed and malformed texts that end parse as before, the second with its line.
  BOOST_TEST(cfg::parse_yaml_text("a: 1\n", cfg::Origin{"ok.yaml", 0}).is_map());
  try {
    cfg::parse_yaml_text("a: [1\n", cfg::Origin{"bad.yaml", 0});
    BOOST_FAIL("expected an InputError");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("bad.yaml:") == 0, e.what());
  }
}

// ---- fuzz_config's findings ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_relative_reference_in_a_config_that_is_one_string_is_one_line) {
  // tests/fuzz/regressions/config/relative_reference_at_the_root: the YAML "a ${.b:c}" is a
  // single string at the root, and '.b' asked for the map holding it: end() - 1 of an empty path.
  const cfg::Node root = cfg::parse_yaml_text("a ${.b:c}\n", cfg::Origin{"one.yaml", 0});
  try {
    cfg::resolve(root);
    BOOST_FAIL("expected an InputError");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("is relative, and the root is in no map") != std::string::npos, e.what());
  }
}
