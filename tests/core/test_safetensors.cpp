#define BOOST_TEST_MODULE safetensors
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fstream>

#include "framework/io/safetensors.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace st = pbench::safetensors;

namespace {

// A file crafted by hand: 8-byte LE length, the header text, then `data`.
std::vector<uint8_t> craft(const std::string& header, const std::vector<uint8_t>& data, int64_t length_delta = 0) {
  std::vector<uint8_t> out;
  uint64_t n = uint64_t(int64_t(header.size()) + length_delta);
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t((n >> (8 * i)) & 0xff));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> bytes(std::size_t n, uint8_t seed = 1) {
  std::vector<uint8_t> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + 37 * i);
  return b;
}

// Expects InputError whose message contains every fragment.
void expect_input_error(const std::vector<uint8_t>& file, std::vector<std::string> fragments) {
  fragments.push_back("crafted.safetensors");  // every message names the file
  try {
    st::File::parse(file, "crafted.safetensors");
    BOOST_ERROR("expected InputError");
  } catch (const pbench::InputError& e) {
    std::string msg = e.what();
    for (const auto& f : fragments) BOOST_CHECK_MESSAGE(msg.find(f) != std::string::npos, "'" << f << "' not in: " << msg);
    BOOST_CHECK_MESSAGE(msg.find('\n') == std::string::npos, "message spans lines: " << msg);
  }
}

const std::string kGood = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})";

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_every_dtype_with_metadata) {
  const std::vector<st::DType> all = {st::DType::BOOL, st::DType::U8,  st::DType::I8,   st::DType::F8_E5M2,
                                      st::DType::F8_E4M3, st::DType::I16, st::DType::U16, st::DType::F16,
                                      st::DType::BF16, st::DType::I32, st::DType::U32,  st::DType::F32,
                                      st::DType::F64,  st::DType::I64, st::DType::U64};
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<st::TensorView> views;
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::vector<int64_t> shape = {int64_t(i % 3 + 1), 3};
    std::size_t n = std::size_t(shape[0] * shape[1]) * st::dtype_size(all[i]);
    payloads.push_back(bytes(n, uint8_t(i)));
    // Reverse-alphabetical insertion: the writer must sort.
    views.push_back({"t" + std::to_string(99 - i) + "_" + st::dtype_name(all[i]), all[i], shape, payloads.back().data(), n});
  }
  // A scalar and an empty tensor are legal too.
  float scalar = 3.5f;
  views.push_back({"scalar", st::DType::F32, {}, &scalar, 4});
  views.push_back({"empty", st::DType::F64, {0, 4}, nullptr, 0});
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "ünïcode \"quoted\""}};

  auto path = pbench::test::scratch_dir("safetensors_round_trip") / "all.safetensors";
  st::write_file(path, views, meta);
  st::File file = st::File::read(path);

  BOOST_TEST(file.metadata() == meta);
  BOOST_REQUIRE_EQUAL(file.tensors().size(), views.size());
  for (const auto& v : views) {
    const st::TensorInfo* info = file.find(v.name);
    BOOST_REQUIRE_MESSAGE(info, v.name);
    BOOST_TEST(st::dtype_name(info->dtype) == st::dtype_name(v.dtype));
    BOOST_TEST(info->shape == v.shape, boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(info->nbytes(), v.nbytes);
    if (v.nbytes) BOOST_TEST(std::memcmp(file.data(*info), v.data, v.nbytes) == 0);
  }
  BOOST_TEST(file.find("absent") == nullptr);
  for (std::size_t i = 1; i < file.tensors().size(); ++i)
    BOOST_TEST((file.tensors()[i - 1].name < file.tensors()[i].name), file.tensors()[i].name);
}

BOOST_AUTO_TEST_CASE(writer_layout_matches_the_reference) {
  std::vector<uint8_t> b1 = bytes(8), b2 = bytes(3);
  auto out = st::serialize({{"b", st::DType::U8, {3}, b2.data(), 3}, {"a", st::DType::F32, {2}, b1.data(), 8}}, {});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | out[std::size_t(i)];
  BOOST_TEST((8 + n) % 8 == 0u);
  std::string header(out.begin() + 8, out.begin() + 8 + std::ptrdiff_t(n));
  // Names sorted, data in that order, padding spaces only, no metadata when empty.
  std::string trimmed = header.substr(0, header.find_last_not_of(' ') + 1);
  BOOST_TEST(trimmed == kGood);
  BOOST_TEST(header.size() - trimmed.size() < 8u);
  BOOST_TEST(std::memcmp(out.data() + 8 + n, b1.data(), 8) == 0);
  BOOST_TEST(std::memcmp(out.data() + 8 + n + 8, b2.data(), 3) == 0);
  BOOST_TEST(out.size() == 8 + n + 11);
}

BOOST_AUTO_TEST_CASE(writer_rejects_bad_views) {
  std::vector<uint8_t> b = bytes(8);
  BOOST_CHECK_THROW(st::serialize({{"a", st::DType::F32, {3}, b.data(), 8}}, {}), pbench::InputError);
  BOOST_CHECK_THROW(st::serialize({{"a", st::DType::F32, {2}, b.data(), 8}, {"a", st::DType::U8, {8}, b.data(), 8}}, {}),
                    pbench::InputError);
  BOOST_CHECK_THROW(st::serialize({{"__metadata__", st::DType::U8, {8}, b.data(), 8}}, {}), pbench::InputError);
}

BOOST_AUTO_TEST_CASE(hand_crafted_good_file_parses) {
  st::File f = st::File::parse(craft(kGood + "   ", bytes(11)), "crafted.safetensors");
  BOOST_REQUIRE_EQUAL(f.tensors().size(), 2u);
  BOOST_TEST(f.find("b")->begin == 8u);
  BOOST_TEST(f.find("b")->numel() == 3);
}

BOOST_AUTO_TEST_CASE(truncated_below_header_length) { expect_input_error({1, 0, 0}, {"truncated", "8-byte"}); }

BOOST_AUTO_TEST_CASE(header_length_larger_than_file) {
  expect_input_error(craft(kGood, bytes(11), 1000), {"header length", "larger"});
}

BOOST_AUTO_TEST_CASE(truncated_data) {
  auto f = craft(kGood, bytes(11));
  f.resize(f.size() - 2);
  expect_input_error(f, {"'b'", "past the data buffer"});
}

BOOST_AUTO_TEST_CASE(bad_json) { expect_input_error(craft(R"({"a":{"dtype":"F32",)", {}), {"valid JSON"}); }

BOOST_AUTO_TEST_CASE(header_not_an_object) { expect_input_error(craft("[1,2]", {}), {"JSON object"}); }

BOOST_AUTO_TEST_CASE(unknown_dtype) {
  expect_input_error(craft(R"({"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", bytes(8)),
                     {"'w'", "unknown dtype 'F31'"});
}

BOOST_AUTO_TEST_CASE(negative_shape) {
  expect_input_error(craft(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", bytes(8)), {"'w'", "negative"});
}

BOOST_AUTO_TEST_CASE(shape_does_not_match_bytes) {
  expect_input_error(craft(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", bytes(8)),
                     {"'w'", "needs 12 bytes", "span 8"});
}

BOOST_AUTO_TEST_CASE(offsets_out_of_range) {
  expect_input_error(craft(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", bytes(4)),
                     {"'w'", "past the data buffer"});
}

BOOST_AUTO_TEST_CASE(offsets_end_before_begin) {
  expect_input_error(craft(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", bytes(8)),
                     {"'w'", "end is before begin"});
}

BOOST_AUTO_TEST_CASE(offsets_overlap) {
  expect_input_error(craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           bytes(12)),
                     {"'b'", "overlap", "'a'"});
}

BOOST_AUTO_TEST_CASE(offsets_leave_a_gap) {
  expect_input_error(craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                           bytes(12)),
                     {"'b'", "contiguous"});
}

BOOST_AUTO_TEST_CASE(offsets_not_starting_at_zero) {
  expect_input_error(craft(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", bytes(8)), {"'a'", "contiguous"});
}

BOOST_AUTO_TEST_CASE(buffer_not_fully_covered) {
  expect_input_error(craft(kGood, bytes(15)), {"15 bytes", "cover 11", "'b'"});
}

BOOST_AUTO_TEST_CASE(duplicate_names) {
  expect_input_error(craft(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                           R"("a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                           bytes(8)),
                     {"'a'", "twice"});
}

BOOST_AUTO_TEST_CASE(missing_field_and_bad_offsets_type) {
  expect_input_error(craft(R"({"a":{"dtype":"U8","shape":[4]}})", bytes(4)), {"'a'", "data_offsets"});
  expect_input_error(craft(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,-4]}})", bytes(4)),
                     {"'a'", "data_offsets"});
  expect_input_error(craft(R"({"a":{"dtype":"U8","shape":[4.5],"data_offsets":[0,4]}})", bytes(4)),
                     {"'a'", "integers"});
}

BOOST_AUTO_TEST_CASE(metadata_must_be_strings) {
  expect_input_error(craft(R"({"__metadata__":{"format":1},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                           bytes(4)),
                     {"__metadata__", "'format'"});
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_path) {
  BOOST_CHECK_EXCEPTION(st::File::read("/nonexistent/x.safetensors"), pbench::InputError,
                        [](const pbench::InputError& e) { return std::string(e.what()).find("x.safetensors") != std::string::npos; });
}
