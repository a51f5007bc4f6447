// The compose workload through the real engine: two LoRA runs on builtin:tiny (red_cube,
// blue_ball) trained by `pbench run`, then composed by `pbench run` with workload: compose.
// Checked: one image set scored against each concept's subject (/metrics/subject_<k>), the
// final point as their per-image mean, the prompts naming both subjects, the record of what was
// composed, and that the weights reach the merge (weight 0 on the second concept samples other
// images than weight 1).
#define BOOST_TEST_MODULE engine_compose
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/run/run_delta.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "tests/support/run_program.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {

const char* kEval = R"(eval:
  num_prompts: 2
  images_per_prompt: 1
  steps: 3
  batch_size: 2
)";

// `pbench run` on `yaml` into <scratch>/<name>.h5; returns the run file.
fs::path pbench_run(const fs::path& scratch, const std::string& name, const std::string& yaml) {
  std::ofstream(scratch / (name + ".yaml")) << yaml;
  const fs::path run_file = scratch / (name + ".h5");
  const std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  const int rc = test::run_program({pbench_bin, "run", (scratch / (name + ".yaml")).string(), "--threads", "1", "--out",
                                    run_file.string()},
                                   scratch / (name + ".log"), scratch / (name + ".log"));
  BOOST_TEST_INFO(std::ifstream(scratch / (name + ".log")).rdbuf());
  BOOST_REQUIRE(rc == 0);
  BOOST_REQUIRE(read_run_summary(run_file).status == "complete");
  return run_file;
}

fs::path lora_run(const fs::path& scratch, const std::string& subject) {
  return pbench_run(scratch, subject, R"(seed: 2
model: {name: builtin:tiny}
method: {name: lora, rank: 2, lr: 1.0e-2}
dataset: {name: builtin, subject: )" + subject + R"(, unique_token: sks, num_images: 3, num_eval_prompts: 2}
train: {steps: 4, batch_size: 1}
dvar: {mode: "off"}
eval: {enabled: false}
)");
}

fs::path custom_diffusion_run(const fs::path& scratch, const std::string& subject) {
  return pbench_run(scratch, "cd_" + subject, R"(seed: 2
model: {name: builtin:tiny}
method: {name: custom_diffusion, lr: 1.0e-3, scale_lr: false, augment: false, num_class_images: 1}
dataset: {name: builtin, subject: )" + subject + R"(, unique_token: sks, num_images: 3, num_eval_prompts: 2}
train: {steps: 3, batch_size: 1}
dvar: {mode: "off"}
eval: {enabled: false}
)");
}

fs::path compose_run(const fs::path& scratch, const std::string& name, const std::vector<fs::path>& runs,
                     const std::string& weights) {
  return pbench_run(scratch, name, "workload: compose\nseed: 1\ncompose:\n  runs: [" + runs[0].string() + ", " +
                                       runs[1].string() + "]\n  weights: " + weights + "\n" + kEval);
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_lora_concepts_are_scored_against_each_subject) {
  at::set_num_threads(1);
  const fs::path scratch = test::scratch_dir("engine_compose");
  const std::vector<fs::path> runs = {lora_run(scratch, "red_cube"), lora_run(scratch, "blue_ball")};
  const fs::path both = compose_run(scratch, "both", runs, "[]");

  h5::Handle f = h5::open_file(both.string(), false);
  BOOST_TEST(h5::read_strings(f.id(), "compose/subjects") == std::vector<std::string>({"red_cube", "blue_ball"}),
             boost::test_tools::per_element());
  BOOST_TEST(h5::read_doubles(f.id(), "compose/weights") == std::vector<double>({1.0, 1.0}),
             boost::test_tools::per_element());
  for (const std::string& prompt : h5::read_strings(f.id(), "samples/final/prompts"))
    BOOST_TEST((prompt.find("sks cube") != std::string::npos && prompt.find("sks ball") != std::string::npos), prompt);
  for (const char* metric : {"clip_i", "dino", "clip_t"}) {
    const auto one = h5::read_doubles(f.id(), std::string("metrics/subject_1/") + metric),
               two = h5::read_doubles(f.id(), std::string("metrics/subject_2/") + metric),
               mean = h5::read_doubles(f.id(), std::string("metrics/final/") + metric);
    BOOST_REQUIRE(one.size() == 2u);
    BOOST_REQUIRE(two.size() == one.size());
    BOOST_REQUIRE(mean.size() == one.size());
    for (size_t i = 0; i < one.size(); ++i) BOOST_TEST(mean[i] == (one[i] + two[i]) / 2, boost::test_tools::tolerance(1e-12));
    // The same images against another subject's real images score otherwise (CLIP-T's prompt is shared).
    if (std::string(metric) != "clip_t") BOOST_TEST(one != two, metric);
  }

  // The weights reach the merge: without the second concept the model samples other images.
  const fs::path first_only = compose_run(scratch, "first_only", runs, "[1.0, 0.0]");
  h5::Handle g = h5::open_file(first_only.string(), false);
  BOOST_TEST((h5::read_uint8s(f.id(), "samples/final/images") != h5::read_uint8s(g.id(), "samples/final/images")));
}

BOOST_AUTO_TEST_CASE(two_custom_diffusion_concepts_merge_by_constrained_least_squares) {
  at::set_num_threads(1);
  const fs::path scratch = test::scratch_dir("engine_compose_cd");
  const std::vector<fs::path> runs = {custom_diffusion_run(scratch, "red_cube"), custom_diffusion_run(scratch, "blue_ball")};
  const fs::path both = compose_run(scratch, "cd_both", runs, "[]");
  std::stringstream compose_log;
  compose_log << std::ifstream(scratch / "cd_both.log").rdbuf();
  BOOST_TEST(compose_log.str().find("token <new1>+<new2>") != std::string::npos, compose_log.str());
  // Each concept written by its own renamed token, though both runs say "sks".
  BOOST_TEST(compose_log.str().find("<new1> cube and <new2> ball") != std::string::npos, compose_log.str());
  h5::Handle f = h5::open_file(both.string(), false);
  BOOST_TEST(h5::read_doubles(f.id(), "metrics/subject_2/clip_i").size() == 2u);

  // `pbench merge-delta` on the run files writes the same two-token delta; bare deltas are refused.
  const std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  const fs::path merged = scratch / "cd_merged.safetensors";
  BOOST_REQUIRE(test::run_program({pbench_bin, "merge-delta", merged.string(), runs[0].string(), runs[1].string()},
                                  scratch / "merge.log", scratch / "merge.log") == 0);
  const TensorMap tensors = load_safetensors(merged);
  BOOST_TEST(tensors.at("text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens").size(0) == 2);
  BOOST_TEST(test::run_program({pbench_bin, "merge-delta", (scratch / "bare.safetensors").string(),
                                run_delta_file(runs[0]).string(), run_delta_file(runs[1]).string()},
                               scratch / "bare.log", scratch / "bare.log") == 2);
  std::stringstream bare;
  bare << std::ifstream(scratch / "bare.log").rdbuf();
  BOOST_TEST(bare.str().find("give run files") != std::string::npos, bare.str());

  // A run's delta in diffusers' layout (the weights, and <new1>.safetensors beside them) and back.
  const fs::path exported = scratch / "diffusers" / "pytorch_custom_diffusion_weights.safetensors";
  fs::create_directories(exported.parent_path());
  BOOST_REQUIRE(test::run_program({pbench_bin, "export-delta", runs[0].string(), exported.string(), "--format", "diffusers"},
                                  scratch / "export.log", scratch / "export.log") == 0);
  const fs::path embedding = exported.parent_path() / "<new1>.safetensors";
  BOOST_REQUIRE(fs::exists(embedding));
  const fs::path back = scratch / "back.delta.safetensors";
  BOOST_REQUIRE(test::run_program({pbench_bin, "import-delta", exported.string(), back.string(), "--method",
                                   "custom_diffusion", "--format", "diffusers", "--embedding", embedding.string()},
                                  scratch / "import.log", scratch / "import.log") == 0);
  const TensorMap original = load_safetensors(run_delta_file(runs[0])), again = load_safetensors(back);
  BOOST_REQUIRE(original.size() == again.size());
  for (const auto& [key, t] : original) BOOST_TEST(torch::equal(t, again.at(key)), key);

  // The run baked into its base model (`pbench merge`): a diffusers folder whose tokenizer knows
  // the modifier token; the command reads it back itself, and refuses to write over a folder.
  const fs::path pipeline_out = scratch / "merged_pipeline";
  BOOST_REQUIRE(test::run_program({pbench_bin, "merge", "builtin:tiny", runs[0].string(), pipeline_out.string()},
                                  scratch / "bake.log", scratch / "bake.log") == 0);
  std::stringstream bake_log;
  bake_log << std::ifstream(scratch / "bake.log").rdbuf();
  BOOST_TEST(bake_log.str().find("<new1> cube") != std::string::npos, bake_log.str());
  const models::Pipeline merged_pipeline = models::load_pipeline(pipeline_out.string());
  BOOST_TEST(merged_pipeline.tokenizer->token_id("<new1>") == merged_pipeline.tokenizer->vocab_size() - 1);
  BOOST_TEST(test::run_program({pbench_bin, "merge", "builtin:tiny", runs[0].string(), pipeline_out.string()},
                               scratch / "bake_again.log", scratch / "bake_again.log") == 2);
}
