// The continual workload through the real engine: `pbench run` learns three builtin subjects
// one after another on builtin:tiny, with C-LoRA (arXiv 2304.06027: a token per task, the
// earlier deltas as its frozen past) and with LoRA fine-tuned sequentially (the paper's
// baseline). Checked: the task x subject matrix against the points it summarizes, the final
// point against the last row, each subject prompted with its own task's token (its images), the C-LoRA
// task deltas chained through `past`, LoRA's task 2 starting from task 1's delta, and
// make_table's average accuracy and forgetting against continual_scores' formula.
#define BOOST_TEST_MODULE engine_continual
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>

#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/report/continual_scores.hpp"
#include "framework/report/run_records.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/util/strings.hpp"
#include "tests/support/run_program.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {

const std::vector<std::string> kSubjects = {"red_cube", "blue_ball", "yellow_star"};

// Few steps per task, two images at three sampling steps per point: seconds per task.
std::string run_yaml(const std::string& method) {
  return R"(workload: continual
seed: 5
model:
  name: builtin:tiny
method:
)" + method + R"(
dataset:
  name: builtin
  subject: red_cube
  unique_token: sks
  num_images: 3
  num_eval_prompts: 2
continual:
  subjects: [red_cube, blue_ball, yellow_star]
train:
  steps: 4
  batch_size: 1
  log_every: 2
dvar:
  mode: monitor
  window: 2
  threshold: 1.0
  eval_batch_size: 2
eval:
  num_prompts: 2
  images_per_prompt: 1
  steps: 3
  batch_size: 2
)";
}

// Runs `pbench run` on the yaml into <scratch>/runs/run.h5; returns the run file.
fs::path run_continual(const std::string& name, const std::string& method_yaml) {
  at::set_num_threads(1);
  const fs::path scratch = test::scratch_dir("engine_continual_" + name);
  fs::create_directories(scratch / "runs");
  std::ofstream(scratch / "continual.yaml") << run_yaml(method_yaml);
  const fs::path run_file = scratch / "runs" / "run.h5";
  const std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  const int rc = test::run_program({pbench_bin, "run", (scratch / "continual.yaml").string(), "--threads", "1", "--out",
                                    run_file.string()},
                                   scratch / "run.log", scratch / "run.log");
  BOOST_TEST_INFO(std::ifstream(scratch / "run.log").rdbuf());
  BOOST_REQUIRE(rc == 0);
  BOOST_REQUIRE(read_run_summary(run_file).status == "complete");
  return run_file;
}

fs::path task_delta(const fs::path& run_file, int task) {
  fs::path base = run_file;
  base.replace_extension("");
  return base.string() + ".task_" + std::to_string(task) + ".delta.safetensors";
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(c_lora_learns_a_sequence_and_the_matrix_summarizes_every_point) {
  const fs::path run_file = run_continual("c_lora", "  name: c_lora\n  rank: 2\n  lr: 1.0e-2\n  token_lr: 1.0e-2");
  const size_t tasks = kSubjects.size();
  h5::Handle f = h5::open_file(run_file.string(), false);
  h5::Handle g = h5::open_group(f.id(), "continual");
  BOOST_TEST(h5::read_strings(g.id(), "subjects") == kSubjects, boost::test_tools::per_element());
  BOOST_TEST(h5::read_int64s(g.id(), "steps") == std::vector<int64_t>(tasks, 4), boost::test_tools::per_element());
  BOOST_TEST(h5::read_doubles(f.id(), "train/step").size() == 12u);  // one step axis across the tasks
  BOOST_TEST(h5::read_doubles(f.id(), "train/step").back() == 12.0);

  for (const char* metric : {"clip_i", "clip_t", "dino"}) {
    const std::vector<double> matrix = h5::read_doubles(g.id(), metric);
    BOOST_REQUIRE(matrix.size() == tasks * tasks);
    for (size_t t = 0; t < tasks; ++t)
      for (size_t s = 0; s < tasks; ++s) {
        const std::string point = "task_" + std::to_string(t + 1) + "_subject_" + std::to_string(s + 1);
        BOOST_TEST_CONTEXT(metric << " " << point) {
          BOOST_TEST(h5::exists(f.id(), "metrics/" + point) == (s <= t));
          if (s > t) {
            BOOST_TEST(std::isnan(matrix[t * tasks + s]));  // not learnt yet
            continue;
          }
          const double mean = mean_of(h5::read_doubles(f.id(), "metrics/" + point + "/" + metric));
          BOOST_TEST(matrix[t * tasks + s] == mean, boost::test_tools::tolerance(1e-12));
        }
      }
    // /metrics/final is the last row's points, subject after subject.
    std::vector<double> last_row;
    for (size_t s = 0; s < tasks; ++s) {
      const auto v = h5::read_doubles(f.id(), "metrics/task_3_subject_" + std::to_string(s + 1) + "/" + metric);
      last_row.insert(last_row.end(), v.begin(), v.end());
    }
    BOOST_TEST(h5::read_doubles(f.id(), std::string("metrics/final/") + metric) == last_row,
               boost::test_tools::per_element());
  }

  // Each subject is prompted with the token of the task that learnt it, by every later model.
  // C-LoRA's prompts drop the class word ("a <c_lora_1> in the snow"), so with one token for
  // all subjects the same seeds would give the same images; with a token each they differ.
  for (size_t t = 2; t <= tasks; ++t)
    for (size_t s = 2; s <= t; ++s) {
      const std::string a = "samples/task_" + std::to_string(t) + "_subject_1",
                        b = "samples/task_" + std::to_string(t) + "_subject_" + std::to_string(s);
      BOOST_TEST(h5::read_int64s(f.id(), a + "/seeds") == h5::read_int64s(f.id(), b + "/seeds"),
                 boost::test_tools::per_element());
      BOOST_TEST((h5::read_uint8s(f.id(), a + "/images") != h5::read_uint8s(f.id(), b + "/images")), a << " vs " << b);
    }

  // Task t's delta holds its own token only; the past tokens came frozen from the earlier files.
  for (int t = 1; t <= 3; ++t) {
    const TensorMap delta = load_safetensors(task_delta(run_file, t));
    for (int other = 1; other <= 3; ++other)
      BOOST_TEST(delta.count("<c_lora_" + std::to_string(other) + ">") == size_t(other == t), t << " " << other);
  }

  // make_table's summary is the formula's, on the recorded matrix.
  const report::RunRecord record = report::read_run_record(run_file, "method");
  for (const char* metric : {"clip_i", "dino"}) {
    const report::ContinualScores expected = report::continual_scores(h5::read_doubles(g.id(), metric), tasks);
    BOOST_TEST(record.values.at(std::string("cl_avg_") + metric) == expected.average, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(record.values.at(std::string("cl_forget_") + metric) == expected.forgetting,
               boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(report::metric_title("cl_forget_clip_i") == "CLIP-I forgetting");
}

BOOST_AUTO_TEST_CASE(lora_fine_tunes_sequentially_from_the_previous_task) {
  const fs::path run_file = run_continual("lora", "  name: lora\n  rank: 2\n  lr: 1.0e-3");
  const TensorMap one = load_safetensors(task_delta(run_file, 1)), two = load_safetensors(task_delta(run_file, 2));
  // Each task draws its own seed, so a fresh LoRA would start from other random down factors;
  // starting from task 1's delta, task 2's four small steps keep them close.
  double change = 0, size = 0;
  int64_t downs = 0;
  for (const auto& [key, t] : one) {
    if (!ends_with(key, ".lora.down")) continue;
    change += (two.at(key) - t).pow(2).sum().item<double>();
    size += t.pow(2).sum().item<double>();
    ++downs;
  }
  BOOST_REQUIRE(downs > 0);
  BOOST_TEST(std::sqrt(change) < 0.1 * std::sqrt(size));
  BOOST_TEST(change > 0.0);  // and it trained
}
