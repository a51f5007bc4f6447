#define BOOST_TEST_MODULE parity_schedulers
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "framework/models/parity/parity.hpp"
#include "tests/support/test_paths.hpp"

// `pbench parity schedulers` on ../shared/refvectors/schedulers (skipped when absent).

namespace fs = std::filesystem;
namespace parity = pbench::parity;

namespace {
struct SharedFixture {
  SharedFixture() { pbench::test::require_shared_or_skip("refvectors/schedulers"); }
};
BOOST_TEST_GLOBAL_FIXTURE(SharedFixture);

fs::path folder() { return pbench::test::shared_dir() / "refvectors" / "schedulers"; }
}  // namespace

BOOST_AUTO_TEST_CASE(shared_scheduler_vectors_pass) {
  const parity::Component* c = parity::find_component("schedulers");
  BOOST_REQUIRE(c);
  parity::Report report = parity::run(*c, folder());
  BOOST_TEST_MESSAGE(parity::report_table(report));
  BOOST_TEST(report.pass);
  BOOST_TEST(report.outputs.size() >= 36u);  // every expected output of the folder has a row
  for (const auto& r : report.outputs) BOOST_TEST(r.pass, r.name << " " << r.note);
}

BOOST_AUTO_TEST_CASE(command_exit_codes) {
  std::string a0 = "pbench parity", a1 = "schedulers", a2 = folder().string(), a3 = "--json";
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data()};
  BOOST_TEST(parity::parity_command(4, argv) == 0);
  std::string bad = "/nonexistent/folder";
  char* argv_bad[] = {a0.data(), a1.data(), bad.data()};
  BOOST_TEST(parity::parity_command(3, argv_bad) == 2);
}

BOOST_AUTO_TEST_CASE(a_different_config_fails_the_same_vectors) {
  // The runner must really read scheduler_config.json: with steps_offset 0
  // the timesteps (and the steps that depend on them) no longer match.
  fs::path dir = pbench::test::scratch_dir("parity_schedulers_offset0");
  for (const char* f : {"cases.safetensors", "tolerance.json"}) fs::copy_file(folder() / f, dir / f);
  std::ifstream in(folder() / "scheduler_config.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto pos = text.find("\"steps_offset\": 1");
  BOOST_REQUIRE(pos != std::string::npos);
  text.replace(pos, 17, "\"steps_offset\": 0");
  std::ofstream(dir / "scheduler_config.json") << text;
  parity::Report report = parity::run(*parity::find_component("schedulers"), dir);
  BOOST_TEST(!report.pass);
}
