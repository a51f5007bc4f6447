#define BOOST_TEST_MODULE make_table_cli
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "framework/io/image.hpp"
#include "tests/support/synthetic_sweep.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {

fs::path make_table_bin() { return test::binary_dir() / "bin" / "make_table"; }

struct Result {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result run(const std::string& args, const fs::path& scratch) {
  fs::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  std::string cmd = "'" + make_table_bin().string() + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
  int status = std::system(cmd.c_str());
  Result r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Every file make_table writes into the sweep, by path relative to it.
std::map<std::string, std::string> outputs(const fs::path& sweep) {
  std::map<std::string, std::string> files;
  for (const char* f : {"report.md", "table.md", "table.tex", "table.csv"}) files[f] = slurp(sweep / f);
  for (const auto& e : fs::directory_iterator(sweep / "figures"))
    files["figures/" + e.path().filename().string()] = slurp(e.path());
  return files;
}

}  // namespace

BOOST_AUTO_TEST_CASE(outputs_are_deterministic_and_report_links_everything) {
  fs::path scratch = test::scratch_dir("make_table_cli");
  fs::path sweep = test::write_synthetic_sweep(scratch / "synthetic");
  Result first = run("'" + sweep.string() + "' --format csv --metrics dino,clip_i --ci", scratch);
  BOOST_TEST_REQUIRE(first.rc == 0, first.err);
  BOOST_TEST(first.out == slurp(sweep / "table.csv"));
  auto before = outputs(sweep);
  BOOST_TEST(before.size() == 4u + 5u);

  // Remove one figure and change nothing else: a second call restores identical bytes. The
  // staging folders a call stopped midway leaves (issue 41: figures and report are swapped in by
  // renames) are cleared, and a stale figure in them never reaches figures/.
  fs::remove(sweep / "figures" / "grid_cat.png");
  fs::create_directories(sweep / "figures.new");
  std::ofstream(sweep / "figures.new" / "stale.png") << "x";
  fs::create_directories(sweep / "figures.old");
  Result second = run("'" + sweep.string() + "' --format csv --metrics dino,clip_i --ci", scratch);
  BOOST_TEST_REQUIRE(second.rc == 0, second.err);
  BOOST_TEST(second.out == first.out);
  auto after = outputs(sweep);
  BOOST_TEST(!fs::exists(sweep / "figures.new"));
  BOOST_TEST(!fs::exists(sweep / "figures.old"));
  BOOST_TEST(!fs::exists(sweep / "report.md.new"));
  BOOST_REQUIRE(after.size() == before.size());
  for (const auto& [name, bytes] : before) BOOST_TEST((after[name] == bytes), name << " differs between calls");

  std::string report = before["report.md"];
  for (const auto& [name, bytes] : before) {
    if (name == "report.md") continue;
    std::string link = "(" + name + ")";
    BOOST_TEST(report.find(link) != std::string::npos, "report.md does not link " << name);
    if (name.rfind("figures/", 0) == 0) {
      Image img = decode_image_memory(std::vector<uint8_t>(bytes.begin(), bytes.end()), name);
      BOOST_TEST(img.width > 0);
    }
  }
  BOOST_TEST(report.find(test::kFailedError) != std::string::npos);
  BOOST_TEST(report.find("pipeline check, not comparable to published numbers") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(out_file_and_formats) {
  fs::path scratch = test::scratch_dir("make_table_cli_out");
  fs::path sweep = test::write_synthetic_sweep(scratch / "synthetic");
  Result r = run("'" + sweep.string() + "' --format latex --out '" + (scratch / "t.tex").string() + "'", scratch);
  BOOST_TEST_REQUIRE(r.rc == 0, r.err);
  BOOST_TEST(r.out.empty());
  std::string tex = slurp(scratch / "t.tex");
  BOOST_TEST(tex.find("\\toprule") != std::string::npos);
  BOOST_TEST(tex == slurp(sweep / "table.tex"));
  Result md = run("'" + sweep.string() + "' --group-by dataset.subject --metrics dino", scratch);
  BOOST_TEST_REQUIRE(md.rc == 0, md.err);
  BOOST_TEST(md.out.find("| dataset.subject | runs | DINO |") == 0u);
  BOOST_TEST(md.out.find("| cat † | 4 |") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(exit_statuses) {
  fs::path scratch = test::scratch_dir("make_table_cli_exit");
  Result missing = run("'" + (scratch / "nope").string() + "'", scratch);
  BOOST_TEST(missing.rc == 2);
  BOOST_TEST(missing.err.find((scratch / "nope").string()) != std::string::npos);
  BOOST_TEST(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);

  fs::create_directories(scratch / "empty" / "runs");
  Result empty = run("'" + (scratch / "empty").string() + "'", scratch);
  BOOST_TEST(empty.rc == 1, empty.err);  // nothing complete to tabulate
  BOOST_TEST(fs::exists(scratch / "empty" / "report.md"));

  fs::create_directories(scratch / "noruns");
  BOOST_TEST(run("'" + (scratch / "noruns").string() + "'", scratch).rc == 2);
  BOOST_TEST(run("'" + (scratch / "empty").string() + "' --format html", scratch).rc == 2);
  Result bad_metric = run("'" + (scratch / "empty").string() + "' --metrics dino,fid", scratch);
  BOOST_TEST(bad_metric.rc == 2);
  BOOST_TEST(bad_metric.err.find("fid") != std::string::npos);
  BOOST_TEST(run("--no-such-flag", scratch).rc == 2);
  BOOST_TEST(run("", scratch).rc == 2);

  // --point: a variant point some run has is fine; one no run has is a usage error naming it.
  fs::path sweep = test::write_synthetic_sweep(scratch / "synthetic");
  Result variant = run("'" + sweep.string() + "' --point " + test::kVariantPoint + " --metrics dino", scratch);
  BOOST_TEST(variant.rc == 0, variant.err);
  BOOST_TEST(variant.out.find("| lora † | 4 | 0.525 ± 0.129 |") != std::string::npos, variant.out);
  Result typo = run("'" + sweep.string() + "' --point final_rank_9", scratch);
  BOOST_TEST(typo.rc == 2);
  BOOST_TEST(typo.err.find("final_rank_9") != std::string::npos, typo.err);

  Result help = run("--help", scratch);
  BOOST_TEST(help.rc == 0);
  BOOST_TEST(help.out.find("--group-by") != std::string::npos);
  Result version = run("--version", scratch);
  BOOST_TEST(version.rc == 0);
  BOOST_TEST(version.out.rfind("make_table", 0) == 0u);
}
