#define BOOST_TEST_MODULE sweep_plan
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>

#include "framework/config/access.hpp"
#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/sweep/plan.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/sweep/sweep_runs.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/sha256.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
namespace cfg = pbench::cfg;
using pbench::plan_sweep;

namespace {
fs::path fixture(const std::string& name) { return pbench::test::fixtures_dir() / "sweep" / name; }
std::vector<std::string> labels(const pbench::SweepPlan& plan) {
  std::vector<std::string> out;
  for (const auto& r : plan.runs) out.push_back(cfg::get_string(r.resolved, "label"));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(yaml_block_grid_is_cartesian_first_axis_slowest) {
  auto plan = plan_sweep(fixture("grid.yaml"), {}, nullptr);
  BOOST_TEST(plan.name == "grid_fixture");
  BOOST_TEST(plan.axes == (std::vector<std::string>{"variant", "seed"}));
  BOOST_TEST(labels(plan) == (std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1", "b-2"}));
  BOOST_TEST(plan.runs[4].overrides == (std::vector<std::string>{"variant=b", "seed=1"}));
  BOOST_TEST(cfg::get_int(plan.runs[4].resolved, "variant.rank") == 8);
}

BOOST_AUTO_TEST_CASE(command_line_axis_replaces_block_axis_and_adds_new_ones) {
  auto plan = plan_sweep(fixture("grid.yaml"), {"seed=5,6", "lr=1e-3,2e-3"}, nullptr);
  BOOST_TEST(plan.axes == (std::vector<std::string>{"variant", "seed", "lr"}));
  BOOST_TEST(plan.runs.size() == 8u);
  BOOST_TEST(labels(plan)[0] == "a-5");
  BOOST_TEST(cfg::get_double(plan.runs[1].resolved, "lr") == 2e-3);
}

BOOST_AUTO_TEST_CASE(fixed_command_line_value_removes_block_axis) {
  auto plan = plan_sweep(fixture("grid.yaml"), {"seed=9", "variant.rank=16"}, nullptr);
  BOOST_TEST(plan.axes == (std::vector<std::string>{"variant"}));
  BOOST_TEST(labels(plan) == (std::vector<std::string>{"a-9", "b-9"}));
  BOOST_TEST(cfg::get_int(plan.runs[1].resolved, "variant.rank") == 16);  // fixed overrides apply after the group choice
}

BOOST_AUTO_TEST_CASE(group_all_sweeps_every_option_file_of_the_group) {
  // `variant: all` in the block and `variant=all` on the command line: every file of variant/, sorted.
  auto plan = plan_sweep(fixture("group_all.yaml"), {}, nullptr);
  BOOST_TEST(labels(plan) == (std::vector<std::string>{"a-0", "a-1", "b-0", "b-1"}));
  auto cli = plan_sweep(fixture("grid.yaml"), {"variant=all", "seed=0"}, nullptr);
  BOOST_TEST(labels(cli) == (std::vector<std::string>{"a-0", "b-0"}));
  BOOST_TEST(cli.axes == (std::vector<std::string>{"variant"}));
  // `all` on a key that is not a group stays a plain value.
  auto plain = plan_sweep(fixture("grid.yaml"), {"variant=a", "seed=0", "note=all"}, nullptr);
  BOOST_TEST(cfg::get_string(plain.runs.at(0).resolved, "note") == "all");
}

BOOST_AUTO_TEST_CASE(choice_and_float_range) {
  auto plan = plan_sweep(fixture("grid.yaml"), {"variant=choice(b)", "seed=0", "rate=range(0,1,0.25)"}, nullptr);
  BOOST_TEST(plan.runs.size() == 4u);
  BOOST_TEST(cfg::get_double(plan.runs[3].resolved, "rate") == 0.75);
  BOOST_TEST(labels(plan)[0] == "b-0");
}

BOOST_AUTO_TEST_CASE(equal_values_give_one_run) {
  // 1e-4 and 0.0001 are the same number: one run id, counted as a duplicate.
  auto plan = plan_sweep(fixture("list_axes.yaml"), {}, nullptr);
  BOOST_TEST(plan.name == "list_axes");
  BOOST_TEST(plan.runs.size() == 2u);
  BOOST_TEST(plan.duplicates == 1u);
}

BOOST_AUTO_TEST_CASE(run_id_is_sha256_of_canonical_json_without_runtime) {
  auto plan = plan_sweep(fixture("grid.yaml"), {}, nullptr);
  const auto& run = plan.runs[0];
  std::string payload = cfg::run_id_payload(run.resolved);
  BOOST_TEST(run.id == pbench::sha256_hex(payload).substr(0, 16));
  BOOST_TEST(run.id.size() == 16u);
  // Canonical: sorted keys, no spaces, numbers as values.
  BOOST_TEST(payload.find("\"label\":\"a-0\",\"lr\":0.001,\"note\":") != std::string::npos);
  BOOST_TEST(payload.find("\"variant\":{\"name\":\"a\",\"rank\":4}") != std::string::npos);
  // Thread counts and output paths (the runtime section) do not change the id.
  cfg::Node with_runtime = run.resolved;
  cfg::assign(with_runtime, "runtime.threads", cfg::Node::integer(2), true);
  cfg::assign(with_runtime, "runtime.output", cfg::Node::string("/x/y.h5"), true);
  BOOST_TEST(cfg::run_id(with_runtime) == run.id);
  // Key order does not matter; a changed value does.
  cfg::Node reordered = cfg::parse_yaml_text(cfg::to_json(run.resolved, true), {"json", 0});
  BOOST_TEST(cfg::run_id(reordered) == run.id);
  BOOST_TEST(plan.runs[1].id != run.id);
}

BOOST_AUTO_TEST_CASE(nan_and_infinities_get_run_ids_of_their_own) {
  // JSON has no NaN or infinity: written as null they all hashed to one run id.
  std::set<std::string> ids;
  for (const char* v : {".nan", ".inf", "-.inf", "null", "0.0", "'nan'"})
    ids.insert(cfg::run_id(cfg::parse_yaml_text(std::string("lr: ") + v + "\n", {"test", 0})));
  BOOST_TEST(ids.size() == 6u);
  BOOST_TEST(cfg::run_id_payload(cfg::parse_yaml_text("lr: -.inf\n", {"test", 0})) == R"({"lr":{"$float":"-inf"}})");
}

BOOST_AUTO_TEST_CASE(validator_sees_every_point_and_can_reject) {
  int calls = 0;
  auto plan = plan_sweep(fixture("grid.yaml"), {}, [&](const cfg::Node&) { ++calls; });
  BOOST_TEST(calls == 6);
  BOOST_CHECK_THROW(plan_sweep(fixture("grid.yaml"), {},
                               [](const cfg::Node& c) {
                                 if (cfg::get_string(c, "variant.name") == "b") throw pbench::InputError("no b");
                               }),
                    pbench::InputError);
}

BOOST_AUTO_TEST_CASE(bad_sweep_blocks_are_input_errors) {
  fs::path dir = pbench::test::scratch_dir("sweep_plan_bad");
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "x.yaml") << text;
    return dir / "x.yaml";
  };
  BOOST_CHECK_THROW(plan_sweep(write("a: 1\nsweep:\n  parms: {a: 1,2}\n"), {}, nullptr), pbench::InputError);
  BOOST_CHECK_THROW(plan_sweep(write("a: 1\nsweep:\n  name: ../up\n"), {}, nullptr), pbench::InputError);
  BOOST_CHECK_THROW(plan_sweep(write("a: 1\n"), {"a=range(0,0)"}, nullptr), pbench::InputError);
  BOOST_CHECK_THROW(plan_sweep(write("a: 1\n"), {"b=1,2"}, nullptr), pbench::InputError);  // b not in config
}

// The launchers' starting point: a run is complete only when its final file says so, and
// the states print as INTERFACES.md's words (run_sweep's JSON "status").
BOOST_AUTO_TEST_CASE(initial_runs_are_pending_until_a_complete_file_exists_and_states_print_as_words) {
  auto plan = plan_sweep(fixture("grid.yaml"), {}, nullptr);
  const fs::path sweep_dir = fs::temp_directory_path() / "pbench_initial_runs_test";
  fs::remove_all(sweep_dir);
  fs::create_directories(sweep_dir / "runs");
  std::ofstream(pbench::run_file(sweep_dir, plan.runs[1].id)) << "not an HDF5 file";  // a corrupt file is not complete
  const auto runs = pbench::initial_runs(plan, sweep_dir);
  BOOST_TEST(runs.size() == plan.runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    BOOST_TEST(runs[i].run == &plan.runs[i]);
    BOOST_TEST(std::string(pbench::state_name(runs[i].state)) == "pending");
  }
  // A complete run file under run 0's name that holds another run is refused, not counted (issue 41).
  {
    pbench::RunFileWriter w(pbench::run_file(sweep_dir, plan.runs[0].id), "0123456789abcdef", "grid_fixture", "x: 1\n",
                            "x: 1\n", pbench::current_provenance());
    w.complete();
  }
  try {
    pbench::initial_runs(plan, sweep_dir);
    BOOST_FAIL("a foreign run file was taken for run 0");
  } catch (const pbench::InputError& e) {
    BOOST_TEST(std::string(e.what()).find("holds run 0123456789abcdef, not " + plan.runs[0].id) != std::string::npos, e.what());
  }
  fs::remove_all(sweep_dir);
  BOOST_TEST(std::string(pbench::state_name(pbench::RunState::running_elsewhere)) == "running elsewhere");
  BOOST_TEST(std::string(pbench::state_name(pbench::RunState::complete)) == "complete");
  BOOST_TEST(std::string(pbench::state_name(pbench::RunState::interrupted)) == "interrupted");
}

// Issue 41, class 7: a line break in an override value ended the `# run …` comment of every
// generated config, and the rest was read as YAML; the comment escapes it and the value survives.
BOOST_AUTO_TEST_CASE(a_line_break_in_an_override_value_stays_inside_the_config) {
  // "\n" in a double-quoted YAML value is a line break; the point's label re-renders it raw.
  auto plan = plan_sweep(fixture("grid.yaml"), {"note=\"first\\nsecond: 1\",other"}, nullptr);
  BOOST_REQUIRE(plan.runs.front().overrides.back().find('\n') != std::string::npos);
  const fs::path sweep_dir = fs::temp_directory_path() / "pbench_newline_test";
  fs::remove_all(sweep_dir);
  fs::create_directories(sweep_dir / "configs");
  const fs::path file = pbench::write_run_config(plan, plan.runs.front(), sweep_dir, 1);
  cfg::Node config = cfg::load_yaml_file(file, file.string());
  BOOST_TEST(cfg::get_string(config, "note") == "first\nsecond: 1");
  BOOST_TEST(!config.find("second"));
  std::ifstream in(file);
  std::string first_line;
  std::getline(in, first_line);
  BOOST_TEST(first_line.find("first\\nsecond: 1") != std::string::npos, first_line);
  fs::remove_all(sweep_dir);
}

// Issue 41, class 5: the grid's size is checked before it is expanded.
BOOST_AUTO_TEST_CASE(a_grid_too_large_is_refused_before_it_is_expanded) {
  try {
    plan_sweep(fixture("grid.yaml"), {"seed=range(0,1000)", "lr=range(0,1000)"}, nullptr);
    BOOST_FAIL("a 2 x 1000 x 1000 grid was planned");
  } catch (const pbench::InputError& e) {
    const std::string msg = e.what();
    BOOST_TEST(msg.find("variant (2) x seed (1000) x lr (1000) has more than 100000 points") != std::string::npos, msg);
  }
}
