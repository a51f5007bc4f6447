#define BOOST_TEST_MODULE parity_tokenizer
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/models/parity/parity.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;

struct NeedsShared {
  NeedsShared() { pbench::test::require_shared_or_skip("refvectors/clip_tokenizer"); }
};
BOOST_TEST_GLOBAL_FIXTURE(NeedsShared);

BOOST_AUTO_TEST_CASE(shared_folder_passes_through_pbench_parity) {
  const auto* c = pbench::parity::find_component("clip_tokenizer");
  BOOST_REQUIRE(c);
  auto report = pbench::parity::run(*c, pbench::test::shared_dir() / "refvectors/clip_tokenizer");
  BOOST_TEST(report.pass);
  BOOST_TEST(report.outputs.size() == 180u);  // 60 cases x (input_ids, attention_mask, bpe_ids)
}

BOOST_AUTO_TEST_CASE(one_wrong_id_fails_that_row_only) {
  fs::path src = pbench::test::shared_dir() / "refvectors/clip_tokenizer";
  fs::path dir = pbench::test::scratch_dir("parity_tokenizer_corrupt");
  for (const auto& e : fs::directory_iterator(src)) fs::copy(e.path(), dir / e.path().filename());
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir / "cases.json"));
  doc["cases"][5]["input_ids"][1] = doc["cases"][5]["input_ids"][1].get<int64_t>() + 3;
  fs::permissions(dir / "cases.json", fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(dir / "cases.json") << doc.dump();
  auto report = pbench::parity::run(*pbench::parity::find_component("clip_tokenizer"), dir);
  BOOST_TEST(!report.pass);
  int failed = 0;
  for (const auto& row : report.outputs)
    if (!row.pass) {
      ++failed;
      BOOST_TEST(row.name == "case5.input_ids");
      BOOST_TEST(*row.max_abs == 3.0);
    }
  BOOST_TEST(failed == 1);
}
