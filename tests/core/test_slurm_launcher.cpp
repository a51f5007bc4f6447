#define BOOST_TEST_MODULE slurm_launcher
// The pieces of run_sweep --launcher slurm that need no cluster: the run lock that
// keeps two processes off one run, the sbatch script, and --status from files.
// The real cluster test is tests/python/test_slurm_cluster.py.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "framework/h5/run_file.hpp"
#include "framework/h5/run_lock.hpp"
#include "framework/sweep/slurm.hpp"
#include "framework/sweep/sweep_status.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {
RunFileWriter* open_writer(const fs::path& final_path) {
  return new RunFileWriter(final_path, "0123456789abcdef", "unit", "a: 1\n", "a: 1\n", current_provenance());
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_CASE(a_second_writer_of_one_run_is_refused_until_the_first_is_gone) {
  fs::path runs = test::scratch_dir("slurm_lock") / "runs";
  fs::path final_path = runs / "0123456789abcdef.h5";
  std::unique_ptr<RunFileWriter> first(open_writer(final_path));
  BOOST_TEST(run_is_locked(final_path));
  BOOST_CHECK_EXCEPTION(open_writer(final_path), InputError, [](const InputError& e) {
    return contains(e.what(), "another process is writing this run");
  });
  BOOST_TEST(fs::exists(first->partial_path()));  // the refused writer did not replace the .partial
  first->complete();
  first.reset();
  BOOST_TEST(!run_is_locked(final_path));
  BOOST_TEST(is_complete_run(final_path));
}

BOOST_AUTO_TEST_CASE(a_dead_writer_leaves_an_unlocked_partial) {
  fs::path final_path = test::scratch_dir("slurm_dead") / "runs" / "0123456789abcdef.h5";
  { std::unique_ptr<RunFileWriter> w(open_writer(final_path)); }  // unfinished, as a killed task
  BOOST_TEST(fs::exists(final_path.string() + ".partial"));
  BOOST_TEST(!run_is_locked(final_path));
  std::unique_ptr<RunFileWriter> again(open_writer(final_path));  // the rerun takes over
  again->complete();
}

BOOST_AUTO_TEST_CASE(the_sbatch_script_carries_every_option_and_absolute_paths) {
  SlurmOptions o;
  o.partition = "gpu";
  o.account = "lab";
  o.time = "02:00:00";
  o.mem = "16G";
  o.gpus_per_task = 1;
  o.cpus_per_task = 4;
  o.max_parallel = 8;
  o.sbatch_args = {"--qos=short"};
  SlurmArray a = slurm_array_script(o, "svdiff", "results/svdiff", "build/bin/pbench",
                                    {{"OMP_NUM_THREADS", "4"}}, 12, 3);
  for (const char* line : {"#SBATCH --job-name=pbench-svdiff\n", "#SBATCH --array=0-11%8\n",
                           "#SBATCH --partition=gpu\n", "#SBATCH --account=lab\n", "#SBATCH --time=02:00:00\n",
                           "#SBATCH --gpus-per-task=1\n", "#SBATCH --cpus-per-task=4\n", "#SBATCH --mem=16G\n",
                           "#SBATCH --qos=short\n", "export OMP_NUM_THREADS='4'\n"})
    BOOST_TEST(contains(a.text, line), line);
  BOOST_TEST(a.script.filename() == "submit-3.sbatch");
  BOOST_TEST(a.ids_file.filename() == "runs-3.txt");
  BOOST_TEST(a.script.is_absolute());
  BOOST_TEST(contains(a.text, (fs::absolute("results/svdiff") / "slurm" / "logs" / "%A_%a.out").string()));
  BOOST_TEST(contains(a.text, "exec '" + fs::absolute("build/bin/pbench").string() + "' run '" +
                                  (fs::absolute("results/svdiff") / "configs").string() + "/'\"$run_id\"'.yaml'"));
  SlurmOptions plain;
  a = slurm_array_script(plain, "s", "r/s", "pbench", {}, 4, 1);
  BOOST_TEST(contains(a.text, "#SBATCH --array=0-3\n"));
  BOOST_TEST(!contains(a.text, "--partition"));
  BOOST_TEST(!contains(a.text, "--gpus-per-task"));
}

BOOST_AUTO_TEST_CASE(status_reads_runs_partials_and_locks) {
  fs::path dir = test::scratch_dir("slurm_status") / "mysweep";
  fs::create_directories(dir / "configs");
  for (const char* id : {"aaaa", "bbbb", "cccc", "dddd", "eeee"}) std::ofstream(dir / "configs" / (std::string(id) + ".yaml")) << "a: 1\n";
  auto make = [&](const std::string& id) { return std::unique_ptr<RunFileWriter>(open_writer(dir / "runs" / (id + ".h5"))); };
  make("aaaa")->complete();
  make("bbbb")->fail("boom");
  auto running = make("cccc");                 // lock held: running
  { auto dead = make("dddd"); }                 // stale .partial
  auto runs = sweep_status(dir);
  BOOST_REQUIRE(runs.size() == 5u);
  BOOST_TEST(runs[0].state == "done");
  BOOST_TEST(runs[1].state == "failed");
  BOOST_TEST(runs[1].detail == "boom");
  BOOST_TEST(runs[2].state == "running");
  BOOST_TEST(runs[3].state == "pending");
  BOOST_TEST(contains(runs[3].detail, "stale .partial"));
  BOOST_TEST(runs[4].state == "pending");
  BOOST_TEST(runs[4].detail == "not started");
  BOOST_CHECK_THROW(sweep_status(dir / "nothing"), InputError);
}
