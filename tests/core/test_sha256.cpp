#define BOOST_TEST_MODULE sha256
#include <boost/test/unit_test.hpp>

#include "framework/util/seeds.hpp"
#include "framework/util/sha256.hpp"

// FIPS 180-4 / NIST example vectors, plus lengths around the padding boundary.
BOOST_AUTO_TEST_CASE(known_vectors) {
  BOOST_TEST(pbench::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(pbench::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(pbench::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(pbench::sha256_hex(std::string(1000000, 'a')) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(padding_boundaries_differ) {
  // 55, 56 and 64 bytes take different padding paths; all must be distinct and stable.
  std::string a55(55, 'x'), a56(56, 'x'), a64(64, 'x');
  BOOST_TEST(pbench::sha256_hex(a55) != pbench::sha256_hex(a56));
  BOOST_TEST(pbench::sha256_hex(a56) != pbench::sha256_hex(a64));
  BOOST_TEST(pbench::sha256_hex(a64) == pbench::sha256_hex(std::string(64, 'x')));
}

BOOST_AUTO_TEST_CASE(derived_seeds_depend_on_seed_and_purpose) {
  BOOST_TEST(pbench::derive_seed(0, "noise") == pbench::derive_seed(0, "noise"));
  BOOST_TEST(pbench::derive_seed(0, "noise") != pbench::derive_seed(1, "noise"));
  BOOST_TEST(pbench::derive_seed(0, "noise") != pbench::derive_seed(0, "dvar.batch"));
  BOOST_TEST(int64_t(pbench::derive_seed(7, "x")) >= 0);
}
