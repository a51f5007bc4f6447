// Evaluation variants through the real engine: `pbench run` trains DyLoRA once on
// builtin:tiny, then scores the one trained delta at every rank of eval_ranks as the
// points final_rank_<b> (docs/run_file_schema.md). The test checks one point per
// rank, that the ranks differ, that the full rank reproduces `final` exactly, and
// recomputes each rank's DVAR objective in-process from the saved delta file.
#define BOOST_TEST_MODULE engine_variants
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/train/trainer.hpp"
#include "tests/support/run_program.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {

// Few steps, two images at three sampling steps: a few seconds. lr 1e-2 so that six steps move the
// adapter far enough for the ranks to differ. DVAR monitors every step with a short window.
const char* kRunYaml = R"(workload: personalize
seed: 3
model:
  name: builtin:tiny
method:
  name: dylora
  rank: 4
  alpha: 4.0
  lr: 1.0e-2
dataset:
  name: builtin
  subject: red_cube
  unique_token: sks
  num_images: 3
  num_eval_prompts: 2
train:
  steps: 6
  batch_size: 1
  log_every: 3
dvar:
  mode: monitor
  window: 3
  threshold: 1.0
  eval_batch_size: 2
eval:
  num_prompts: 2
  images_per_prompt: 1
  steps: 3
  batch_size: 2
)";

const std::vector<int> kRanks = {1, 2, 4};  // eval_ranks: null at rank 4

// A registry entry's section from the run config with the entry's defaults filled in (as the workload reads it).
template <class Entry>
cfg::Node section_of(const cfg::Node& config, const std::string& key, const Entry& entry) {
  return cfg::with_defaults(cfg::require(config, key), entry.info.defaults);
}

// DVAR's objective of the saved delta at `rank`, recomputed in this process on a fresh pipeline.
double objective_of_saved_delta(const cfg::Node& config, const fs::path& delta_file, int rank) {
  models::Pipeline pipeline = models::load_pipeline("builtin:tiny");
  const auto& dataset_entry = datasets().get("builtin", "test");
  SubjectData subject =
      dataset_entry.factory.load(section_of(config, "dataset", dataset_entry), int(pipeline.resolution), {});
  const auto& method_entry = methods().get("dylora", "test");
  cfg::Node method_section = section_of(config, "method", method_entry);
  method_section.set("eval_rank", cfg::Node::integer(rank));
  std::unique_ptr<Method> method = method_entry.factory.create(method_section);
  freeze_pipeline(pipeline);
  MethodTarget target{pipeline, &subject};
  method->attach(target);
  method->load_delta(load_safetensors(delta_file));
  DvarOptions dvar;
  dvar.window = 3;
  dvar.threshold = 1.0;
  dvar.eval_batch_size = 2;
  Trainer trainer(pipeline, *method, subject, TrainOptions{}, dvar, cfg::get_int(config, "seed"));
  return trainer.deterministic_objective();
}

std::vector<double> per_image(hid_t file, const std::string& point, const char* metric) {
  return h5::read_doubles(file, "metrics/" + point + "/" + metric);
}

}  // namespace

BOOST_AUTO_TEST_CASE(dylora_is_scored_at_every_rank_from_one_training_run) {
  at::set_num_threads(1);
  fs::path scratch = test::scratch_dir("engine_variants");
  std::ofstream(scratch / "dylora_ranks.yaml") << kRunYaml;
  fs::path run_file = scratch / "run.h5";
  std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  int rc = test::run_program({pbench_bin, "run", (scratch / "dylora_ranks.yaml").string(), "--threads", "1", "--out",
                              run_file.string()},
                             scratch / "run.log", scratch / "run.log");
  BOOST_TEST_INFO(std::ifstream(scratch / "run.log").rdbuf());
  BOOST_REQUIRE(rc == 0);
  BOOST_REQUIRE(read_run_summary(run_file).status == "complete");
  fs::path delta_file = scratch / "run.delta.safetensors";
  BOOST_REQUIRE(fs::exists(delta_file));

  h5::Handle f = h5::open_file(run_file.string(), false);
  h5::Handle final_group = h5::open_group(f.id(), "metrics/final");
  BOOST_TEST(!h5::has_attr(final_group.id(), "variant"));  // the existing points are unchanged
  std::vector<double> dvar_objective = h5::read_doubles(f.id(), "dvar/objective");
  BOOST_REQUIRE(dvar_objective.size() == 6u);

  std::map<int, double> objective;
  for (int r : kRanks) {
    const std::string point = "final_rank_" + std::to_string(r);
    BOOST_REQUIRE_MESSAGE(h5::exists(f.id(), "metrics/" + point), point);
    h5::Handle g = h5::open_group(f.id(), "metrics/" + point);
    BOOST_TEST(h5::attr_string(g.id(), "variant") == "rank_" + std::to_string(r));
    BOOST_TEST(h5::attr_int(g.id(), "step") == 6);
    BOOST_TEST(h5::attr_string(g.id(), "clip_backbone") == "builtin:tiny-clip");
    objective[r] = h5::attr_double(g.id(), "objective");
    BOOST_TEST(std::isfinite(objective[r]));
    for (const char* m : {"clip_i", "clip_t", "dino"}) BOOST_TEST(per_image(f.id(), point, m).size() == 2u, point << " " << m);
    BOOST_TEST(h5::dims_of(f.id(), "samples/" + point + "/images") == h5::dims_of(f.id(), "samples/final/images"));
    BOOST_TEST(h5::read_int64s(f.id(), "samples/" + point + "/seeds") == h5::read_int64s(f.id(), "samples/final/seeds"));
    // Recomputed here from the saved delta file: every variant scores the one trained delta.
    double again = objective_of_saved_delta(cfg::parse_yaml_text(kRunYaml, {"test", 0}), delta_file, r);
    BOOST_TEST(again == objective[r], boost::test_tools::tolerance(1e-6));
    BOOST_TEST_MESSAGE("rank " << r << ": objective " << objective[r] << ", clip_i "
                               << h5::attr_double(g.id(), "clip_i") << ", dino " << h5::attr_double(g.id(), "dino"));
  }
  BOOST_TEST(h5::exists(f.id(), "metrics/final_rank_3") == false);
  // The ranks are different adapters.
  BOOST_TEST(objective[1] != objective[2]);
  BOOST_TEST(objective[2] != objective[4]);
  BOOST_TEST(objective[1] != objective[4]);
  BOOST_TEST((h5::read_uint8s(f.id(), "samples/final_rank_1/images") != h5::read_uint8s(f.id(), "samples/final/images")));

  // The full rank is the default (eval_rank: null): it reproduces `final` exactly. (Its objective is
  // after step 6's update; the last DVAR row is before it, as the reference evaluates.)
  for (const char* m : {"clip_i", "clip_t", "dino"})
    BOOST_TEST(per_image(f.id(), "final_rank_4", m) == per_image(f.id(), "final", m), m);
  BOOST_TEST(h5::read_uint8s(f.id(), "samples/final_rank_4/images") == h5::read_uint8s(f.id(), "samples/final/images"));

  // DVAR fired before the end, so dvar_stop holds an earlier delta; the variants were scored before it was
  // loaded (rank 4 equals final, not dvar_stop).
  h5::Handle dvar_group = h5::open_group(f.id(), "dvar");
  int64_t stop = h5::attr_int(dvar_group.id(), "stop_step");
  BOOST_TEST_REQUIRE((stop > 0 && stop < 6), "stop step " << stop);
  BOOST_TEST(h5::exists(f.id(), "metrics/dvar_stop"));
  BOOST_TEST((h5::read_uint8s(f.id(), "samples/dvar_stop/images") != h5::read_uint8s(f.id(), "samples/final/images")));
}
