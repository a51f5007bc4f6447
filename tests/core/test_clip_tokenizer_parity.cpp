#define BOOST_TEST_MODULE clip_tokenizer_parity
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/text/clip_tokenizer.hpp"
#include "framework/text/clip_tokenizer_parity.hpp"
#include "tests/support/test_paths.hpp"

// Every case of ../shared/refvectors/clip_tokenizer (openai/CLIP reference ids)
// must match exactly; the suite is skipped (exit 77) when ../shared is absent.
namespace {
struct RequireShared {
  RequireShared() { pbench::test::require_shared_or_skip("refvectors/clip_tokenizer/cases.json"); }
};
std::filesystem::path reference_folder() {
  return pbench::test::shared_dir() / "refvectors" / "clip_tokenizer";
}
}  // namespace
BOOST_TEST_GLOBAL_FIXTURE(RequireShared);

BOOST_AUTO_TEST_CASE(every_shared_case_matches_exactly) {
  const pbench::TokenizerParityResult result = pbench::check_tokenizer_cases(reference_folder());
  for (const auto& failure : result.first_failures) BOOST_TEST_MESSAGE(failure);
  BOOST_TEST(result.cases == 60);
  BOOST_TEST(result.mismatches == 0);
  BOOST_TEST(result.first_failures.empty());
}

// The harness must notice a wrong expectation: corrupt one id of a copy of
// the folder and the check has to report exactly that case.
BOOST_AUTO_TEST_CASE(a_corrupted_expectation_is_reported) {
  namespace fs = std::filesystem;
  const fs::path copy = pbench::test::scratch_dir("clip_tokenizer_parity_corrupt");
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(reference_folder() / name, copy / name);
  }
  std::ifstream in(reference_folder() / "cases.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  doc["cases"][1]["input_ids"][2] = doc["cases"][1]["input_ids"][2].get<int64_t>() + 1;
  std::ofstream(copy / "cases.json") << doc.dump();

  const pbench::TokenizerParityResult result = pbench::check_tokenizer_cases(copy);
  BOOST_TEST(result.cases == 60);
  BOOST_TEST(result.mismatches == 1);
  BOOST_REQUIRE(result.first_failures.size() == 1u);
  BOOST_TEST(result.first_failures[0].find("case 1 ") == 0u);
  BOOST_TEST(result.first_failures[0].find("input_ids[2]") != std::string::npos);
}

// The repository's own copy of the tokenizer files is the same tokenizer.
BOOST_AUTO_TEST_CASE(repo_assets_match_the_reference_files) {
  const auto repo = pbench::ClipTokenizer::from_folder(pbench::test::source_dir() / "framework" / "assets" /
                                                       "clip_tokenizer");
  std::ifstream in(reference_folder() / "cases.json");
  const nlohmann::json doc = nlohmann::json::parse(in);
  for (const auto& kase : doc.at("cases")) {
    const auto expected = kase.at("input_ids").get<std::vector<int64_t>>();
    BOOST_TEST(repo.encode(kase.at("text").get<std::string>()).input_ids == expected,
               boost::test_tools::per_element());
  }
}
