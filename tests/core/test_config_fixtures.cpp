// Data-driven config tests: every folder under tests/fixtures/config/ is one
// case with
//   experiment.yaml (+ group folders next to it)   the experiment
//   overrides.txt       optional, one command-line override per line
//   env.txt             optional, NAME=VALUE lines set before composing
//   expected.yaml       the resolved config (types compared too), or
//   expected_error.txt  lines that must all appear in the error message
//   expected_unresolved.yaml  optional, the composed config before interpolation
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "framework/config/compose.hpp"
#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
namespace cfg = pbench::cfg;
namespace utf = boost::unit_test;

namespace {

std::vector<std::string> read_lines(const fs::path& p) {
  std::vector<std::string> lines;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  return lines;
}

cfg::Node compose_and_resolve(const fs::path& dir, cfg::Node* unresolved) {
  std::vector<cfg::Override> overrides;
  for (const auto& line : read_lines(dir / "overrides.txt")) overrides.push_back(cfg::parse_override(line));
  for (const auto& line : read_lines(dir / "env.txt")) {
    auto eq = line.find('=');
    setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
  }
  cfg::ComposeResult composed = cfg::compose(dir / "experiment.yaml", overrides);
  if (unresolved) *unresolved = composed.config;
  cfg::Node resolved = cfg::resolve(composed.config);
  cfg::require_no_missing(resolved);
  return resolved;
}

void run_fixture(const fs::path& dir) {
  fs::path cwd = fs::current_path();
  fs::current_path(pbench::test::source_dir());  // messages name files relative to the project root
  struct Restore {
    fs::path p;
    ~Restore() { fs::current_path(p); }
  } restore{cwd};

  if (fs::exists(dir / "expected_error.txt")) {
    std::string message;
    try {
      compose_and_resolve(dir, nullptr);
    } catch (const pbench::InputError& e) {
      message = e.what();
    }
    BOOST_TEST_INFO("error was: " << message);
    BOOST_TEST(!message.empty(), "expected an InputError");
    for (const auto& needle : read_lines(dir / "expected_error.txt")) {
      BOOST_TEST_INFO("looking for: " << needle);
      BOOST_TEST(message.find(needle) != std::string::npos);
    }
    return;
  }
  cfg::Node unresolved;
  cfg::Node resolved = compose_and_resolve(dir, &unresolved);
  cfg::Node expected = cfg::load_yaml_file(dir / "expected.yaml", "expected.yaml");
  BOOST_TEST_INFO("got:\n" << cfg::to_yaml(resolved) << "expected:\n" << cfg::to_yaml(expected));
  BOOST_TEST((resolved == expected));
  // Key order is part of the contract for humans reading /config/resolved.
  BOOST_TEST(cfg::to_yaml(resolved) == cfg::to_yaml(expected));
  if (fs::exists(dir / "expected_unresolved.yaml")) {
    cfg::Node want = cfg::load_yaml_file(dir / "expected_unresolved.yaml", "expected_unresolved.yaml");
    BOOST_TEST_INFO("unresolved:\n" << cfg::to_yaml(unresolved));
    BOOST_TEST((unresolved == want));
  }
  // The emitted YAML reads back to the same tree (types included).
  cfg::Node reread = cfg::parse_yaml_text(cfg::to_yaml(resolved), {"reread", 0});
  BOOST_TEST((reread == resolved));
}

}  // namespace

bool init_unit_test() {
  fs::path root = pbench::test::fixtures_dir() / "config";
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  for (const auto& dir : cases)
    utf::framework::master_test_suite().add(
        utf::make_test_case([dir] { run_fixture(dir); }, dir.filename().string(), __FILE__, __LINE__));
  return true;
}

int main(int argc, char* argv[]) { return utf::unit_test_main(&init_unit_test, argc, argv); }
