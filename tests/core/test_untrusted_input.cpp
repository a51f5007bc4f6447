// Inputs that would make a third-party library pbench links loop or allocate without a bound
// (issue 41, class 5): each is refused with one line, and the process lives on.
#define BOOST_TEST_MODULE untrusted_input
#include <boost/test/unit_test.hpp>

#include <zlib.h>

#include <fstream>
#include <iterator>

#include <chrono>

#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/io/image.hpp"
#include "framework/io/png_inflate_bound.hpp"
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

BOOST_AUTO_TEST_CASE(the_inflate_limit_is_the_headers_row_bytes) {
  BOOST_TEST(png_inflated_limit(5, 3, 8, 2, false) == 3u * (1 + 15));   // RGB
  BOOST_TEST(png_inflated_limit(5, 3, 8, 6, false) == 3u * (1 + 20));   // RGBA
  BOOST_TEST(png_inflated_limit(9, 2, 1, 0, false) == 2u * (1 + 2));    // 1-bit grey: 9 bits -> 2 bytes
  BOOST_TEST(png_inflated_limit(5, 3, 16, 2, false) == 3u * (1 + 30));
  BOOST_TEST(png_inflated_limit(5, 3, 8, 2, true) > png_inflated_limit(5, 3, 8, 2, false));
  BOOST_TEST(png_inflated_limit(5, 3, 8, 5, false) == 0u);  // no such color type
  BOOST_TEST(png_inflated_limit(0, 3, 8, 2, false) == 0u);
}

BOOST_AUTO_TEST_CASE(a_png_whose_data_inflates_past_its_header_is_refused) {
  // Exactly the header's bytes decode; one row too many is refused before stb sees it.
  std::vector<uint8_t> rows(3 * 16, 0);  // 3 rows of filter byte 0 + 5 RGB pixels
  rows[1] = 200;
  const std::vector<uint8_t> good = png_with_raw(5, 3, rows);
  Image img = decode_image_memory(good, "good.png");
  BOOST_TEST(img.width == 5);
  BOOST_TEST(int(img.rgb[0]) == 200);
  std::vector<uint8_t> more = rows;
  more.insert(more.end(), 16, 0);
  const std::string why = message_of(png_with_raw(5, 3, more));
  BOOST_TEST(why.find("x.png: the PNG's image data inflates past the 48 bytes its header allows (5 x 3 pixels)") == 0,
             why);
  // A stream of zeros claiming a few pixels: refused after 48 bytes, not inflated to the end.
  BOOST_TEST(!message_of(png_with_raw(5, 3, std::vector<uint8_t>(64 << 20, 0))).empty());
}

BOOST_AUTO_TEST_CASE(the_fuzzers_2_gib_png_is_one_line) {
  // tests/fuzz/regressions/image: 187 bytes that made libstb's inflater realloc 2 GiB.
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
