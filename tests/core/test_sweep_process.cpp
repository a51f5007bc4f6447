// run_sweep as users and scripts drive it: real processes, real run files.
// Uses the test programs (run_sweep / pbench with the test-only `test_steps`
// workload) on tests/fixtures/sweep/grid.yaml.
#define BOOST_TEST_MODULE sweep_process
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "tests/support/run_program.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a program with arguments (no shell), capturing stdout and stderr.
Result run(const std::vector<std::string>& args, const fs::path& scratch) {
  fs::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  Result r;
  r.code = pbench::test::run_program(args, out, err);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

fs::path fixture() { return pbench::test::fixtures_dir() / "sweep" / "grid.yaml"; }
std::string test_run_sweep() { return (pbench::test::test_bin_dir() / "test_run_sweep").string(); }
std::string test_worker() { return (pbench::test::test_bin_dir() / "test_worker").string(); }

std::vector<std::string> sweep_args(const fs::path& results, std::vector<std::string> extra) {
  std::vector<std::string> args = {test_run_sweep(), fixture().string(), "--worker", test_worker(),
                                   "--results", results.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::map<std::string, fs::file_time_type> final_files(const fs::path& runs) {
  std::map<std::string, fs::file_time_type> out;
  if (!fs::exists(runs)) return out;
  for (const auto& e : fs::directory_iterator(runs))
    if (e.path().extension() == ".h5") out[e.path().filename().string()] = fs::last_write_time(e.path());
  return out;
}

size_t count_with_suffix(const fs::path& dir, const std::string& suffix) {
  size_t n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) ++n;
  }
  return n;
}

// Processes (other than ourselves) whose command line mentions `needle`.
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    std::string cmdline = slurp(e.path() / "cmdline");
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    // Zombies have an empty cmdline and write nothing: they do not count.
    if (cmdline.find(needle) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

}  // namespace

BOOST_AUTO_TEST_CASE(runs_every_point_then_resumes_without_rerunning) {
  fs::path scratch = pbench::test::scratch_dir("sweep_complete");
  fs::path runs = scratch / "results" / "grid_fixture" / "runs";
  Result first = run(sweep_args(scratch / "results", {"--jobs", "2"}), scratch);
  BOOST_TEST_INFO(first.err);
  BOOST_TEST(first.code == 0);
  BOOST_TEST(first.out.find("6/6 complete, 0 failed") != std::string::npos);
  auto files = final_files(runs);
  BOOST_TEST(files.size() == 6u);
  for (const auto& [name, time] : files) BOOST_TEST(pbench::is_complete_run(runs / name));
  BOOST_TEST(count_with_suffix(runs, ".partial") == 0u);
  BOOST_TEST(first.err.find("remaining") != std::string::npos);  // progress lines

  Result again = run(sweep_args(scratch / "results", {"--jobs", "2"}), scratch);
  BOOST_TEST(again.code == 0);
  BOOST_TEST(again.err.find("6 already complete, 0 to run") != std::string::npos);
  BOOST_TEST((final_files(runs) == files));  // nothing rewritten
}

BOOST_AUTO_TEST_CASE(a_failing_run_is_recorded_and_the_sweep_goes_on) {
  fs::path scratch = pbench::test::scratch_dir("sweep_failing");
  fs::path runs = scratch / "results" / "grid_fixture" / "runs";
  auto args = sweep_args(scratch / "results", {"variant=a", "seed=0", "test.fail_at=-1,2", "--json"});
  Result r = run(args, scratch);
  BOOST_TEST(r.code == 1);
  auto doc = nlohmann::json::parse(r.out);
  BOOST_TEST(doc["complete"].get<int>() == 1);
  BOOST_TEST(doc["failed"].get<int>() == 1);
  std::string failed_file, complete_file;
  for (const auto& run_doc : doc["runs"]) {
    if (run_doc["status"] == "failed") failed_file = run_doc["file"];
    if (run_doc["status"] == "complete") complete_file = run_doc["file"];
  }
  BOOST_REQUIRE(!failed_file.empty());
  pbench::RunFileSummary s = pbench::read_run_summary(failed_file);
  BOOST_TEST(s.status == "failed");
  BOOST_TEST(s.error == "test workload: failure injected at step 2");
  // The failed run's curves up to the failure are kept.
  pbench::h5::Handle f = pbench::h5::open_file(failed_file, false);
  BOOST_TEST(pbench::h5::read_int64s(f.id(), "train/step").size() == 1u);
  f.close();

  // Rerun: only the failed run runs again.
  auto before = fs::last_write_time(complete_file);
  Result again = run(args, scratch);
  BOOST_TEST(again.code == 1);
  BOOST_TEST(again.err.find("1 already complete, 1 to run") == std::string::npos);  // --json: no progress text
  auto doc2 = nlohmann::json::parse(again.out);
  BOOST_TEST(doc2["skipped_complete"].get<int>() == 1);
  BOOST_TEST((fs::last_write_time(complete_file) == before));
}

BOOST_AUTO_TEST_CASE(a_crash_leaves_only_the_partial_and_is_rerun) {
  fs::path scratch = pbench::test::scratch_dir("sweep_crash");
  fs::path runs = scratch / "results" / "grid_fixture" / "runs";
  auto args = sweep_args(scratch / "results", {"variant=a", "seed=0", "test.crash_at=2"});
  Result r = run(args, scratch);
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("killed by signal 9") != std::string::npos);
  BOOST_TEST(count_with_suffix(runs, ".h5") == 0u);
  BOOST_TEST(count_with_suffix(runs, ".h5.partial") == 1u);
  Result again = run(args, scratch);
  BOOST_TEST(again.err.find("0 already complete, 1 to run") != std::string::npos);
  BOOST_TEST(count_with_suffix(runs, ".h5.partial") == 1u);
}

BOOST_AUTO_TEST_CASE(sigkill_mid_sweep_then_restart_loses_and_reruns_nothing) {
  fs::path scratch = pbench::test::scratch_dir("sweep_sigkill");
  fs::path results = scratch / "results";
  fs::path runs = results / "grid_fixture" / "runs";
  auto args = sweep_args(results, {"test.steps=4", "test.step_ms=150", "--jobs", "1"});
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (final_files(runs).size() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE(final_files(runs).size() >= 2u);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);

  // The worker dies with its parent: nothing keeps writing into the sweep.
  std::string needle = (results / "grid_fixture" / "configs").string();
  deadline = std::chrono::steady_clock::now() + 5s;
  while (!processes_mentioning(needle).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  BOOST_TEST(processes_mentioning(needle).empty());
  auto done_before = final_files(runs);
  BOOST_TEST(done_before.size() < 6u);
  std::map<std::string, std::string> start_times;
  for (const auto& [name, t] : done_before) start_times[name] = pbench::read_run_summary(runs / name).start_time;
  std::this_thread::sleep_for(300ms);
  BOOST_TEST((final_files(runs) == done_before));

  Result restart = run(args, scratch);
  BOOST_TEST_INFO(restart.err);
  BOOST_TEST(restart.code == 0);
  BOOST_TEST(restart.err.find(std::to_string(done_before.size()) + " already complete, " +
                              std::to_string(6 - done_before.size()) + " to run") != std::string::npos);
  auto after = final_files(runs);
  BOOST_TEST(after.size() == 6u);
  BOOST_TEST(count_with_suffix(runs, ".partial") == 0u);
  for (const auto& [name, t] : done_before) {
    BOOST_TEST((after[name] == t), name << " was rewritten");
    BOOST_TEST(pbench::read_run_summary(runs / name).start_time == start_times[name]);
  }
}

BOOST_AUTO_TEST_CASE(plan_runs_nothing_and_prints_ids_and_overrides) {
  fs::path scratch = pbench::test::scratch_dir("sweep_plan_cli");
  Result r = run(sweep_args(scratch / "results", {"--plan"}), scratch);
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("sweep grid_fixture: 6 runs") != std::string::npos);
  BOOST_TEST(r.out.find("variant=b seed=2") != std::string::npos);
  BOOST_TEST(!fs::exists(scratch / "results"));
  Result j = run(sweep_args(scratch / "results", {"--plan", "--json"}), scratch);
  auto doc = nlohmann::json::parse(j.out);
  BOOST_TEST(doc["runs"].size() == 6u);
  BOOST_TEST(doc["runs"][0]["run_id"].get<std::string>().size() == 16u);
  BOOST_TEST(doc["runs"][0]["status"] == "pending");
  BOOST_TEST(doc["axes"][1] == "seed");
}

BOOST_AUTO_TEST_CASE(list_prints_every_registry) {
  fs::path scratch = pbench::test::scratch_dir("sweep_list");
  Result r = run({test_run_sweep(), "--list"}, scratch);
  BOOST_TEST(r.code == 0);
  for (const char* kind : {"methods:", "metrics:", "datasets:", "models:", "workloads:"})
    BOOST_TEST(r.out.find(kind) != std::string::npos);
  BOOST_TEST(r.out.find("test_steps") != std::string::npos);
  auto doc = nlohmann::json::parse(run({test_run_sweep(), "--list", "--json"}, scratch).out);
  bool listed = false;
  for (const auto& w : doc["workloads"]) listed |= w["name"] == "test_steps";
  BOOST_TEST(listed);
}

BOOST_AUTO_TEST_CASE(config_errors_exit_2_with_one_line_naming_the_problem) {
  fs::path scratch = pbench::test::scratch_dir("sweep_errors");
  Result bad_group = run(sweep_args(scratch / "results", {"variant=zzz"}), scratch);
  BOOST_TEST(bad_group.code == 2);
  BOOST_TEST(bad_group.err.find("no config 'zzz'") != std::string::npos);
  BOOST_TEST(std::count(bad_group.err.begin(), bad_group.err.end(), '\n') == 1);
  Result typo = run(sweep_args(scratch / "results", {"++test.stepz=3"}), scratch);
  BOOST_TEST(typo.code == 2);
  BOOST_TEST(typo.err.find("test.stepz: unknown key for workload 'test_steps'") != std::string::npos);
  Result type = run(sweep_args(scratch / "results", {"test.steps=many"}), scratch);
  BOOST_TEST(type.code == 2);
  BOOST_TEST(type.err.find("test.steps: expected an integer, got 'many'") != std::string::npos);
  Result missing = run({test_run_sweep(), (scratch / "nope.yaml").string()}, scratch);
  BOOST_TEST(missing.code == 2);
  BOOST_TEST(missing.err.find("nope.yaml: experiment file not found") != std::string::npos);
  Result flag = run({test_run_sweep(), fixture().string(), "--bogus"}, scratch);
  BOOST_TEST(flag.code == 2);
}

BOOST_AUTO_TEST_CASE(a_second_run_sweep_on_the_same_sweep_is_refused) {
  fs::path scratch = pbench::test::scratch_dir("sweep_lock");
  fs::path sweep_dir = scratch / "results" / "grid_fixture";
  fs::create_directories(sweep_dir);
  int fd = open((sweep_dir / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
  Result r = run(sweep_args(scratch / "results", {}), scratch);
  close(fd);
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("another run_sweep is working on this sweep") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pbench_run_executes_one_written_run_config) {
  fs::path scratch = pbench::test::scratch_dir("pbench_run");
  // The run config run_sweep writes is an ordinary input for pbench run.
  Result plan = run(sweep_args(scratch / "results", {"variant=b", "seed=1"}), scratch);
  BOOST_REQUIRE(plan.code == 0);
  fs::path configs = scratch / "results" / "grid_fixture" / "configs";
  fs::path config = fs::directory_iterator(configs)->path();
  fs::path out = scratch / "single.h5";
  Result r = run({test_worker(), "run", config.string(), "--out", out.string(), "test.steps=2"}, scratch);
  BOOST_TEST_INFO(r.err);
  BOOST_TEST(r.code == 0);
  BOOST_TEST(pbench::is_complete_run(out));
  // An override changes the config, hence the run id.
  BOOST_TEST(pbench::read_run_summary(out).run_id + ".yaml" != config.filename().string());
  Result sweep = run({test_worker(), "run", config.string(), "seed=1,2"}, scratch);
  BOOST_TEST(sweep.code == 2);
  // Without --out the file would land under the planned run's name: refused before anything runs.
  Result misfiled = run({test_worker(), "run", config.string(), "test.steps=2"}, scratch);
  BOOST_TEST(misfiled.code == 2);
  BOOST_TEST(misfiled.err.find("the overrides change this run") != std::string::npos, misfiled.err);
  BOOST_TEST(!fs::exists(scratch / "results" / "grid_fixture" / "runs" / (config.stem().string() + ".h5.partial")));
  // A file-size limit ends the run with an error, never with SIGXFSZ (the worker's
  // exit status would then be 128 + 25 through the shell).
  Result limited = run({"/bin/sh", "-c", "ulimit -f 16; exec \"$0\" run \"$1\" --out \"$2\"", test_worker(),
                        config.string(), (scratch / "limited.h5").string()}, scratch);
  BOOST_TEST((limited.code == 1 || limited.code == 2), "exit " << limited.code << ": " << limited.err);
  Result folder = run({test_worker(), "run", config.string(), "--out", scratch.string()}, scratch);
  BOOST_TEST(folder.code == 2);
  BOOST_TEST(folder.err.find("is a folder") != std::string::npos, folder.err);
  Result bad = run({test_worker(), "run", (scratch / "missing.yaml").string()}, scratch);
  BOOST_TEST(bad.code == 2);
  BOOST_TEST(bad.err.find("missing.yaml") != std::string::npos);
}
