// The engine on builtin:tiny: exactly the method's tensors train, runs are
// reproducible, DVAR's objective is deterministic, and the personalize
// workload writes complete run files through run_sweep (a broken subject
// fails alone).
#define BOOST_TEST_MODULE engine
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <set>
#include <limits>
#include <nlohmann/json.hpp>

#include "datasets/builtin_subjects.hpp"
#include "framework/config/access.hpp"
#include "framework/config/resolve.hpp"
#include "framework/run/catalog.hpp"
#include "framework/run/workload.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/util/errors.hpp"
#include "framework/train/trainer.hpp"
#include "framework/io/image.hpp"
#include "framework/workloads/personalize/setup.hpp"
#include "tests/support/run_program.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;

namespace {

cfg::Node method_section(const std::string& yaml) { return cfg::parse_yaml_text(yaml, {"test", 0}); }

struct Setup {
  models::Pipeline pipeline = models::load_pipeline("builtin:tiny");
  SubjectData subject;
  std::unique_ptr<Method> method;
  explicit Setup(const std::string& method_yaml) {
    cfg::Node ds = cfg::parse_yaml_text("name: builtin\nsubject: red_cube\nunique_token: sks\nnum_images: 3\nnum_eval_prompts: 2\n", {"t", 0});
    subject = datasets().get("builtin", "t").factory.load(ds, int(pipeline.resolution), {});
    cfg::Node s = method_section(method_yaml);
    const auto& entry = methods().get(cfg::get_string(s, "name"), "t");
    method = entry.factory.create(cfg::with_defaults(s, entry.info.defaults));
    freeze_pipeline(pipeline);
    MethodTarget target{pipeline, &subject};
    method->attach(target);
  }
};

TrainOptions small_train(int64_t steps) {
  TrainOptions t;
  t.steps = steps;
  t.batch_size = 1;
  t.lr = 1e-3;
  return t;
}

std::map<std::string, torch::Tensor> snapshot(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(textual_inversion_trains_only_its_token_rows) {
  Setup s("name: textual_inversion\nplaceholder: <sks>\nnum_vectors: 1\nlr: 5.0e-3\n");
  auto unet_before = snapshot(*s.pipeline.unet);
  auto text_before = snapshot(*s.pipeline.text_encoder);
  torch::Tensor rows_before = s.method->delta().at("<sks>").detach().clone();
  DvarOptions dvar;
  dvar.mode = StopMode::off;
  Trainer trainer(s.pipeline, *s.method, s.subject, small_train(3), dvar, 0);
  trainer.run({});
  for (const auto& p : s.pipeline.unet->named_parameters()) BOOST_TEST(torch::equal(p.value(), unet_before[p.key()]), p.key());
  for (const auto& p : s.pipeline.text_encoder->named_parameters()) {
    if (p.key().find("textual_inversion") != std::string::npos) continue;
    BOOST_TEST(torch::equal(p.value(), text_before[p.key()]), p.key());
  }
  BOOST_TEST(!torch::equal(s.method->delta().at("<sks>"), rows_before));
  BOOST_TEST(s.method->delta().at("<sks>").size(1) == s.pipeline.text_encoder->config.encoder.hidden_size);
}

BOOST_AUTO_TEST_CASE(train_weight_decay_is_the_default_of_groups_without_their_own) {
  // Textual Inversion's group sets no decay: train.weight_decay applies (the
  // reference's AdamW default, 1e-2); a method that sets its own keeps it.
  const std::string ti = "name: textual_inversion\nlr: 5.0e-3\n";
  auto rows_after = [](const std::string& yaml, double weight_decay) {
    torch::manual_seed(0);  // LoRA's random down factors
    Setup s(yaml);
    DvarOptions dvar;
    dvar.mode = StopMode::off;
    TrainOptions t = small_train(2);
    t.weight_decay = weight_decay;
    Trainer trainer(s.pipeline, *s.method, s.subject, t, dvar, 3);
    trainer.run({});
    return s.method->delta();
  };
  BOOST_TEST(!torch::equal(rows_after(ti, 0.0).at("<sks>"), rows_after(ti, 50.0).at("<sks>")));
  const std::string lora = "name: lora\nrank: 1\nweight_decay: 0.0\ntargets: [attn2.to_k]\n";
  auto a = rows_after(lora, 0.0), b = rows_after(lora, 50.0);
  for (const auto& [key, t] : a) BOOST_TEST(torch::equal(t, b.at(key)), key);
}

BOOST_AUTO_TEST_CASE(training_is_reproducible_and_dvar_objective_is_deterministic) {
  std::vector<float> losses[2];
  double objectives[2];
  for (int run = 0; run < 2; ++run) {
    Setup s("name: textual_inversion\nplaceholder: <sks>\nnum_vectors: 1\nlr: 5.0e-3\n");
    DvarOptions dvar;
    dvar.window = 3;
    Trainer trainer(s.pipeline, *s.method, s.subject, small_train(4), dvar, 7);
    double first = trainer.deterministic_objective();
    BOOST_TEST(first == trainer.deterministic_objective());  // no state changes between evaluations
    TrainCallbacks cb;
    cb.on_step = [&](int64_t, float loss, float, double) { losses[run].push_back(loss); };
    trainer.run(cb);
    objectives[run] = trainer.deterministic_objective();
  }
  BOOST_TEST(losses[0] == losses[1]);
  BOOST_TEST(objectives[0] == objectives[1]);
  BOOST_TEST(losses[0].size() == 4u);
}

BOOST_AUTO_TEST_CASE(dreambooth_with_prior_preservation_trains_the_unet) {
  Setup s("name: dreambooth\nprior_preservation: true\n");
  auto before = snapshot(*s.pipeline.unet);
  DvarOptions dvar;
  dvar.mode = StopMode::off;
  Trainer trainer(s.pipeline, *s.method, s.subject, small_train(2), dvar, 0);
  std::vector<Image> class_images = {render_builtin_subject("blue_ball", 0, int(s.pipeline.resolution))};
  trainer.set_prior(class_images, "a cube", 1.0);
  TrainResult r = trainer.run({});
  BOOST_TEST(std::isfinite(r.last_loss));
  int changed = 0;
  for (const auto& p : s.pipeline.unet->named_parameters()) changed += !torch::equal(p.value(), before[p.key()]);
  BOOST_TEST(changed > 0);
}

namespace {
// A method whose extra loss is NaN: the engine must fail the run with a clear error.
struct NanLoss : Method {
  torch::Tensor p = torch::zeros({1}, torch::requires_grad());
  void attach(MethodTarget&) override {}
  std::vector<ParamGroup> parameter_groups(double lr) override { return {ParamGroup{"p", {p}, lr, 0.0}}; }
  TensorMap delta() override { return {{"p", p}}; }
  void load_delta(const TensorMap&) override {}
  std::string describe() const override { return "nan"; }
  torch::Tensor extra_loss() override { return p.sum() * std::numeric_limits<float>::quiet_NaN(); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_nan_loss_fails_the_run_naming_the_step) {
  Setup s("name: textual_inversion\n");
  NanLoss nan_method;
  DvarOptions dvar;
  dvar.mode = StopMode::off;
  Trainer trainer(s.pipeline, nan_method, s.subject, small_train(3), dvar, 0);
  std::string message;
  try {
    trainer.run({});
  } catch (const RunFailure& e) {
    message = e.what();
  }
  BOOST_TEST(message.find("training loss became NaN at step 1") != std::string::npos, message);
}

namespace {
int run_program(const std::vector<std::string>& args, const fs::path& out) { return test::run_program(args, out, out); }

// A DreamBooth-layout dataset written by the test: `good` has three images,
// `bad` one image and one corrupt JPEG.
fs::path write_dataset(const fs::path& root) {
  fs::create_directories(root / "dataset" / "good");
  fs::create_directories(root / "dataset" / "bad");
  std::ofstream(root / "dataset" / "prompts_and_classes.txt")
      << "Classes\n\nsubject_name,class\ngood,cube\nbad,ball\n\nPrompts\n\nObject Prompts\n\nprompt_list = [\n"
         "'a {0} {1} in the jungle'.format(unique_token, class_token),\n"
         "'a {0} {1} in the snow'.format(unique_token, class_token)\n]\n\nLive Subject Prompts\n\nprompt_list = [\n"
         "'a {0} {1} in the jungle'.format(unique_token, class_token)\n]\n";
  for (int i = 0; i < 3; ++i)
    write_png(root / "dataset" / "good" / ("0" + std::to_string(i) + ".png"), render_builtin_subject("red_cube", i, 96));
  write_png(root / "dataset" / "bad" / "00.png", render_builtin_subject("blue_ball", 0, 96));
  std::ofstream(root / "dataset" / "bad" / "01.jpg") << "\xff\xd8\xff\xe0 this is not really a jpeg";
  return root;
}
}  // namespace

BOOST_AUTO_TEST_CASE(run_sweep_writes_complete_run_files_and_a_broken_subject_fails_alone) {
  fs::path scratch = test::scratch_dir("engine_sweep");
  fs::path data = write_dataset(scratch / "db");
  std::string run_sweep = (test::binary_dir() / "bin" / "run_sweep").string();
  std::string experiment = (test::fixtures_dir() / "engine" / "engine_check.yaml").string();
  auto args = [&](const fs::path& results) {
    return std::vector<std::string>{run_sweep, experiment, "dataset.root=" + data.string(),
                                    "++runtime.cache_dir=" + (scratch / "cache").string(), "--results", results.string(),
                                    "--jobs", "1"};
  };
  fs::remove_all(scratch / "cache");
  int rc = run_program(args(scratch / "a"), scratch / "a.log");
  BOOST_TEST_INFO(std::ifstream(scratch / "a.log").rdbuf());
  BOOST_TEST(rc == 1);  // one subject is broken
  fs::path runs = scratch / "a" / "engine_check" / "runs";
  int complete = 0, failed = 0;
  fs::path good;
  for (const auto& e : fs::directory_iterator(runs)) {
    if (e.path().extension() != ".h5") continue;
    RunFileSummary s = read_run_summary(e.path());
    if (s.status == "complete") {
      ++complete;
      good = e.path();
    } else {
      ++failed;
      BOOST_TEST(s.error.find("01.jpg") != std::string::npos, s.error);
    }
  }
  BOOST_TEST(complete == 1);
  BOOST_TEST(failed == 1);
  BOOST_REQUIRE(!good.empty());
  h5::Handle f = h5::open_file(good.string(), false);
  auto steps = h5::read_int64s(f.id(), "train/step");
  auto loss = h5::read_doubles(f.id(), "train/loss");
  BOOST_TEST(steps.size() == 12u);
  auto objective = h5::read_doubles(f.id(), "dvar/objective");
  BOOST_TEST(objective.size() == 12u);
  BOOST_TEST(objective.back() < objective.front());  // the deterministic objective decreases
  h5::Handle params = h5::open_group(f.id(), "params");
  BOOST_TEST(h5::attr_int(params.id(), "trainable") == 64);  // one token row of the tiny text encoder
  h5::Handle sd15 = h5::open_group(f.id(), "params/sd15");
  BOOST_TEST(h5::attr_int(sd15.id(), "trainable") == 768);
  BOOST_TEST(h5::attr_int(sd15.id(), "delta_bytes_fp32") == 768 * 4);
  // Engine II: samples and metrics at the end and at the DVAR stop step.
  BOOST_TEST(h5::dims_of(f.id(), "samples/final/images") == (std::vector<hsize_t>{2, 64, 64, 3}));
  // The metrics' real images are the 96-pixel originals, not the 64-pixel training copies (issue 15, item 6).
  BOOST_TEST(h5::dims_of(f.id(), "samples/real/images") == (std::vector<hsize_t>{3, 96, 96, 3}));
  BOOST_TEST(h5::read_doubles(f.id(), "metrics/final/clip_i").size() == 2u);
  h5::Handle final_metrics = h5::open_group(f.id(), "metrics/final");
  double clip_i = h5::attr_double(final_metrics.id(), "clip_i");
  BOOST_TEST((clip_i > -1.0 && clip_i < 1.0));
  BOOST_TEST(h5::attr_string(final_metrics.id(), "clip_backbone") == "builtin:tiny-clip");
  h5::Handle dvar_group = h5::open_group(f.id(), "dvar");
  if (h5::attr_int(dvar_group.id(), "stop_step") > 0) BOOST_TEST(h5::exists(f.id(), "metrics/dvar_stop"));
  h5::Handle metrics_group = h5::open_group(f.id(), "metrics");
  BOOST_TEST(h5::attr_double(metrics_group.id(), "dino_real") <= 1.0 + 1e-9);
  // The do-nothing baseline (issue 38): the frozen model on the same prompts with the class
  // word for the token phrase, same seeds, scored like final.
  BOOST_TEST(h5::dims_of(f.id(), "samples/baseline/images") == h5::dims_of(f.id(), "samples/final/images"));
  std::vector<std::string> final_prompts = h5::read_strings(f.id(), "samples/final/prompts"),
                           baseline_prompts = h5::read_strings(f.id(), "samples/baseline/prompts");
  BOOST_REQUIRE(baseline_prompts.size() == final_prompts.size());
  for (size_t i = 0; i < final_prompts.size(); ++i) {
    BOOST_TEST(final_prompts[i].find("sks ") != std::string::npos, final_prompts[i]);
    BOOST_TEST(baseline_prompts[i].find("sks") == std::string::npos, baseline_prompts[i]);
  }
  BOOST_TEST(h5::read_int64s(f.id(), "samples/baseline/seeds") == h5::read_int64s(f.id(), "samples/final/seeds"));
  BOOST_TEST(h5::read_doubles(f.id(), "metrics/baseline/clip_i").size() == 2u);
  BOOST_TEST(h5::attr_int(h5::open_group(f.id(), "metrics/baseline").id(), "step") == 0);
  // CLIP early stopping in monitor mode: K = ceil(12 / 10) = 2, a check after steps 2, 4, ..., 12;
  // six checks cannot fire a patience of five (it needs seven).
  h5::Handle clip_group = h5::open_group(f.id(), "clip_stop");
  BOOST_TEST(h5::attr_string(clip_group.id(), "mode") == "monitor");
  BOOST_TEST(h5::attr_int(clip_group.id(), "every") == 2);
  BOOST_TEST(h5::read_int64s(f.id(), "clip_stop/step") == (std::vector<int64_t>{2, 4, 6, 8, 10, 12}));
  BOOST_TEST(h5::attr_int(clip_group.id(), "stop_step") == -1);
  for (double v : h5::read_doubles(f.id(), "clip_stop/clip_i")) BOOST_TEST((v > -1.0 && v < 1.0));
  f.close();
  fs::path delta = good;
  delta.replace_extension("");
  BOOST_TEST(fs::exists(delta.string() + ".delta.safetensors"));

  // The same sweep into another folder reproduces the curves exactly.
  BOOST_TEST(run_program(args(scratch / "b"), scratch / "b.log") == 1);
  h5::Handle g = h5::open_file((scratch / "b" / "engine_check" / "runs" / good.filename()).string(), false);
  BOOST_TEST(h5::read_doubles(g.id(), "train/loss") == loss);
  h5::Handle a = h5::open_file(good.string(), false);
  for (const char* m : {"metrics/final/clip_i", "metrics/final/clip_t", "metrics/final/dino"})
    BOOST_TEST(h5::read_doubles(g.id(), m) == h5::read_doubles(a.id(), m), m);
  BOOST_TEST(h5::read_uint8s(g.id(), "samples/final/images") == h5::read_uint8s(a.id(), "samples/final/images"));
  // The baseline was sampled once (sweep a) and read back from the cache (sweep b), identical.
  BOOST_TEST(h5::read_uint8s(g.id(), "samples/baseline/images") == h5::read_uint8s(a.id(), "samples/baseline/images"));
  BOOST_TEST(h5::read_doubles(g.id(), "metrics/baseline/dino") == h5::read_doubles(a.id(), "metrics/baseline/dino"));
  std::ostringstream log_b;
  for (const auto& e : fs::directory_iterator(scratch / "b" / "engine_check" / "logs")) log_b << std::ifstream(e.path()).rdbuf();
  BOOST_TEST(log_b.str().find("class-word samples from the cache") != std::string::npos, log_b.str());
  // The CLIP monitor samples from its own streams: training is the same with it off.
  std::vector<std::string> off = args(scratch / "c");
  off.insert(off.begin() + 2, "++clip_stop.mode=off");
  BOOST_TEST(run_program(off, scratch / "c.log") == 1);
  fs::path off_run;
  for (const auto& e : fs::directory_iterator(scratch / "c" / "engine_check" / "runs"))
    if (e.path().extension() == ".h5" && read_run_summary(e.path()).status == "complete") off_run = e.path();
  BOOST_REQUIRE(!off_run.empty());
  h5::Handle c = h5::open_file(off_run.string(), false);
  BOOST_TEST(h5::read_doubles(c.id(), "train/loss") == loss);
  BOOST_TEST(h5::read_int64s(c.id(), "clip_stop/step").empty());
  BOOST_TEST(h5::attr_string(h5::open_group(c.id(), "clip_stop").id(), "mode") == "off");
}

BOOST_AUTO_TEST_CASE(params_methods_all_is_exact_on_sd15) {
  fs::path scratch = test::scratch_dir("params_methods");
  std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  BOOST_REQUIRE(run_program({pbench_bin, "params", "--methods", "all", "--json"}, scratch / "out.json") == 0);
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(scratch / "out.json"));
  std::map<std::string, int64_t> trainable;
  for (const auto& row : doc["methods"]) trainable[row["method"]] = row["trainable"].get<int64_t>();
  BOOST_TEST(trainable.size() == methods().names().size());  // one row per registered method
  BOOST_TEST(trainable["lora"] == 797184);
  BOOST_TEST(trainable["textual_inversion"] == 768);
  BOOST_TEST(trainable["svdiff"] == 222696 + 100160 + 75341);  // UNet + text encoder (the paper's default)
  BOOST_TEST(trainable["custom_diffusion"] == 19169280 + 768);
  BOOST_TEST(trainable["dreambooth"] == 859520964);
  BOOST_TEST(doc["methods"][0]["unet_total"].get<int64_t>() == 859520964);
}

BOOST_AUTO_TEST_CASE(docs_count_table_is_what_params_markdown_prints) {
  // docs/methods.md holds the table between two markers; regenerate it with
  // `build/bin/pbench params --methods all --markdown` when a count changes.
  fs::path scratch = test::scratch_dir("params_markdown");
  std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  BOOST_REQUIRE(test::run_program({pbench_bin, "params", "--methods", "all", "--markdown"}, scratch / "table.md",
                                  scratch / "stderr.txt") == 0);
  std::ifstream out(scratch / "table.md");
  std::string table((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  std::ifstream in(test::source_dir() / "docs" / "methods.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- begin: pbench params --methods all --markdown -->\n", end = "<!-- end -->";
  size_t a = doc.find(begin), b = doc.find(end, a == std::string::npos ? 0 : a);
  BOOST_REQUIRE_MESSAGE(a != std::string::npos && b != std::string::npos, "docs/methods.md lacks the table markers");
  BOOST_TEST(doc.substr(a + begin.size(), b - a - begin.size()) == table);
  for (const auto& name : methods().names()) BOOST_TEST(table.find("| " + name + " |") != std::string::npos, name);
}

BOOST_AUTO_TEST_CASE(pbench_methods_prints_each_methods_typed_options) {
  fs::path scratch = test::scratch_dir("methods_command");
  std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  BOOST_REQUIRE(run_program({pbench_bin, "methods"}, scratch / "list.txt") == 0);
  for (const auto& name : methods().names()) BOOST_TEST(read(scratch / "list.txt").find(name) != std::string::npos, name);
  BOOST_REQUIRE(run_program({pbench_bin, "methods", "lora", "--help"}, scratch / "lora.txt") == 0);
  std::string lora = read(scratch / "lora.txt");
  BOOST_TEST(lora.find("  rank: 4   (integer, in [1, 1280])\n") != std::string::npos, lora);
  BOOST_TEST(lora.find("  text_lr: null   (number or null, >= 0)\n") != std::string::npos, lora);
  // --yaml is the method section that `method=lora` composes (a preset file to start from).
  BOOST_REQUIRE(run_program({pbench_bin, "methods", "lora", "--yaml"}, scratch / "lora.yaml") == 0);
  cfg::Node printed = cfg::load_yaml_file(scratch / "lora.yaml", "lora.yaml");
  BOOST_TEST((printed == methods().get("lora", "test").info.defaults));
  BOOST_TEST(run_program({pbench_bin, "methods", "lorax"}, scratch / "bad.txt") == 2);
  BOOST_TEST(read(scratch / "bad.txt").find("unknown method 'lorax'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(options_command_lists_the_engines_typed_keys) {
  // `pbench options` is to the engine's sections what `pbench methods <name>` is to a method's.
  fs::path scratch = test::scratch_dir("options_command");
  std::string pbench_bin = (test::binary_dir() / "bin" / "pbench").string();
  BOOST_REQUIRE(run_program({pbench_bin, "options"}, scratch / "options.txt") == 0);
  std::ifstream in(scratch / "options.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(text.find("  train.steps: 100   (integer, >= 1)\n") != std::string::npos, text);
  BOOST_TEST(text.find("  dvar.mode: monitor   (string, one of monitor, stop or off)\n") != std::string::npos, text);
  BOOST_TEST(text.find("  eval.metrics: [clip_i, clip_t, dino]") != std::string::npos, text);
  BOOST_TEST(text.find("  dtype: fp32   (string, one of fp32, bf16 or fp16)") != std::string::npos, text);
  BOOST_TEST(run_program({pbench_bin, "options", "nope"}, scratch / "bad.txt") == 2);
}

BOOST_AUTO_TEST_CASE(svdiff_experiment_plans_all_thirty_dreambooth_subjects) {
  if (!fs::exists(test::shared_dir() / "dreambooth" / "dataset")) {
    BOOST_TEST_MESSAGE("skipped: ../shared/dreambooth is absent");
    return;
  }
  fs::path scratch = test::scratch_dir("svdiff_plan");
  std::string run_sweep = (test::binary_dir() / "bin" / "run_sweep").string();
  std::string experiment = (test::source_dir() / "experiments" / "svdiff.yaml").string();
  BOOST_REQUIRE(run_program({run_sweep, experiment, "dataset.root=" + (test::shared_dir() / "dreambooth").string(),
                             "--plan", "--json"},
                            scratch / "plan.json") == 0);
  nlohmann::json plan = nlohmann::json::parse(std::ifstream(scratch / "plan.json"));
  BOOST_TEST(plan["sweep"] == "svdiff");
  BOOST_TEST(plan["runs"].size() == 30u);
}

BOOST_AUTO_TEST_CASE(peft_compare_sweeps_every_registered_method) {
  fs::path scratch = test::scratch_dir("peft_compare_plan");
  std::string run_sweep = (test::binary_dir() / "bin" / "run_sweep").string();
  std::string experiment = (test::source_dir() / "experiments" / "peft_compare.yaml").string();
  BOOST_REQUIRE(run_program({run_sweep, experiment, "--plan", "--json", "--results", (scratch / "r").string()},
                            scratch / "plan.json") == 0);
  nlohmann::json plan = nlohmann::json::parse(std::ifstream(scratch / "plan.json"));
  std::set<std::string> planned;
  for (const auto& run : plan["runs"])
    for (const auto& o : run["overrides"]) {
      std::string s = o.get<std::string>();
      if (s.rfind("method=", 0) == 0) planned.insert(s.substr(7));
    }
  for (const auto& name : methods().names()) BOOST_TEST(planned.count(name) == 1u, name << " is not in peft_compare");
  BOOST_TEST(plan["runs"].size() == 2 * methods().names().size());
}

BOOST_AUTO_TEST_CASE(random_method_inits_are_reproducible_across_processes) {
  // LoRA's down factors come from a random init: two processes running the same
  // run must start from the same weights (the run's seed, not LibTorch's
  // per-process default seed), so losses and the trained delta are identical.
  fs::path scratch = test::scratch_dir("method_init_repro");
  std::string run_sweep = (test::binary_dir() / "bin" / "run_sweep").string();
  std::string experiment = (test::source_dir() / "experiments" / "peft_compare.yaml").string();
  std::vector<std::vector<double>> losses;
  std::vector<std::string> deltas;
  for (const char* name : {"a", "b"}) {
    BOOST_REQUIRE(run_program({run_sweep, experiment, "method=lora", "dataset.subject=red_cube", "train.steps=3",
                               "dvar.mode=off", "++eval.enabled=false", "--results", (scratch / name).string(),
                               "--jobs", "1"},
                              scratch / (std::string(name) + ".log")) == 0);
    fs::path runs = scratch / name / "peft_compare" / "runs";
    for (const auto& entry : fs::directory_iterator(runs)) {
      const std::string file = entry.path().string();
      if (entry.path().extension() == ".h5") {
        h5::Handle f = h5::open_file(file, false);
        losses.push_back(h5::read_doubles(f.id(), "train/loss"));
      } else if (file.size() > 18 && file.compare(file.size() - 18, 18, ".delta.safetensors") == 0) {
        std::ifstream in(file, std::ios::binary);
        deltas.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    }
  }
  BOOST_REQUIRE(losses.size() == 2u);
  BOOST_REQUIRE(deltas.size() == 2u);
  BOOST_TEST(losses[0].size() == 3u);
  BOOST_TEST(losses[0] == losses[1]);
  BOOST_TEST((deltas[0] == deltas[1]), "the trained LoRA deltas differ between two runs of the same config");
}

BOOST_AUTO_TEST_CASE(plan_rejects_bad_values_before_any_run) {
  // Values the run would reject (issue 23's probe: they planned with exit 0 and
  // failed later, one with SIGFPE) end `run_sweep --plan` with exit 2 and one
  // line naming the key: the personalize workload's check (Workload::check).
  fs::path scratch = test::scratch_dir("plan_bad_values");
  std::string run_sweep = (test::binary_dir() / "bin" / "run_sweep").string();
  std::string experiment = (test::source_dir() / "experiments" / "tiny.yaml").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train.steps=0", "train.steps: expected a positive integer"},
      {"train.num_class_images=0", "train.num_class_images: expected an integer >= 1"},
      {"train.log_every=0", "train.log_every: expected a positive integer"},
      {"++train.lr=-1", "train.lr: expected a finite learning rate"},
      {"++train.adam_beta2=1.5", "train.adam_beta2: expected a number in [0, 1)"},
      {"method.rank=0", "rank"},
      {"method.lr=-0.1", "method.lr: expected a finite learning rate"},
      {"model.name=builtin:nope", "builtin:nope: unknown builtin pipeline"},
      {"++model.path=/nonexistent/sd15", "/nonexistent/sd15: not a folder"},
      {"eval.steps=0", "eval.steps: expected an integer >= 1"},
      {"++eval.eta=2", "eval.eta: expected a number in [0, 1]"},
      {"++trian.steps=3", "trian: unknown top-level key"},
      {"dataset.subject=nope", "unknown builtin subject 'nope'"},
      {"method.lr=.inf", "method.lr: expected a finite learning rate >= 0"},
      {"dvar.mode=halt", "dvar.mode: expected monitor, stop or off, got 'halt'"},
      {"++train.lr_schedule=cosine_x", "train.lr_schedule: expected constant, warmup_constant, cosine or linear"},
      {"++dtype=fp16", "dtype: fp16 is not supported on CPU"},
      {"++clip_stop.patience=-1", "clip_stop.patience: expected an integer >= 0"},
  };
  int i = 0;
  for (const auto& [override_text, words] : cases) {
    fs::path log = scratch / ("case" + std::to_string(i++) + ".log");
    int rc = test::run_program({run_sweep, experiment, "method=lora", override_text, "--plan", "--results",
                                (scratch / "r").string()},
                               log, log);
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(rc == 2, override_text << ": exit " << rc << "\n" << text);
    BOOST_TEST(text.find(words) != std::string::npos, override_text << ": expected '" << words << "' in\n" << text);
    BOOST_TEST(text.find("terminate called") == std::string::npos, override_text);
  }
  // The same checks pass on the committed experiment.
  BOOST_TEST(test::run_program({run_sweep, experiment, "--plan", "--results", (scratch / "r").string()},
                               scratch / "ok.log", scratch / "ok.log") == 0);
}

BOOST_AUTO_TEST_CASE(run_ids_of_committed_experiments_are_pinned) {
  // A run id is the hash of the resolved config: a refactor of how configs are
  // read and defaulted (issue 37) must leave every existing run id as it was, or
  // resumed sweeps would rerun finished work. Ids recorded on 2026-12-06 (ebb3b42).
  fs::path scratch = test::scratch_dir("pinned_run_ids");
  std::string run_sweep = (test::binary_dir() / "bin" / "run_sweep").string();
  const std::vector<std::pair<std::string, std::vector<std::string>>> pinned = {
      {"tiny.yaml", {"d4b24c8987853a42  pending   method=lora dataset.subject=red_cube",
                     "eea1bea1b3841eff  pending   method=dreambooth dataset.subject=blue_ball"}},
      {"quickstart.yaml", {"c3b5cb34f4364e81  pending   method=lora dataset.subject=red_white_striped_cube"}},
      {"mini_proof.yaml",
       {"a7864be863b68208  pending   method=mini/textual_inversion dataset.subject=red_white_striped_cube seed=0"}},
      // Custom Diffusion's id changed with its method defaults (issue 15: augment, scale_lr per image).
      {"peft_compare.yaml", {"980635512b42f99d  pending   method=custom_diffusion dataset.subject=red_cube"}},
  };
  for (const auto& [file, lines] : pinned) {
    fs::path log = scratch / (file + ".log");
    int rc = test::run_program({run_sweep, (test::source_dir() / "experiments" / file).string(), "--plan", "--results",
                                (scratch / "r").string()},
                               log, log);
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(rc == 0, file << ": exit " << rc << "\n" << text);
    for (const auto& line : lines) BOOST_TEST(text.find(line) != std::string::npos, file << ": no line '" << line << "' in\n" << text);
  }
}

BOOST_AUTO_TEST_CASE(method_budget_fills_train_and_dvar_keys_before_the_run_id) {
  // `method` takes the chosen method's own budget (MethodBudget); the completed
  // config is what the run id hashes, so it equals the config spelling the numbers.
  auto completed = [](const std::string& text) {
    cfg::Node c = cfg::resolve(cfg::parse_yaml_text(text, {"exp.yaml", 0}));
    validate_run_config(c);
    return c;
  };
  const std::string head = "workload: personalize\nmethod: {name: lora}\ndataset: {name: builtin, subject: red_cube}\n";
  cfg::Node c = completed(head + "train: {steps: method, batch_size: method}\ndvar: {window: method, threshold: method}\n");
  BOOST_TEST(cfg::get_int(c, "train.steps") == 500);  // diffusers' LoRA README
  BOOST_TEST(cfg::get_int(c, "train.batch_size") == 1);
  BOOST_TEST(cfg::get_int(c, "dvar.window") == 440);  // DVAR README, DreamBooth-LoRA
  BOOST_TEST(cfg::get_double(c, "dvar.threshold") == 0.4);
  cfg::Node spelled = completed(head + "train: {steps: 500, batch_size: 1}\ndvar: {window: 440, threshold: 0.4}\n");
  BOOST_TEST(cfg::run_id(c) == cfg::run_id(spelled));
  // A method DVAR tuned nothing for keeps the engine's stop rule; Textual Inversion has its own.
  cfg::Node db = completed("method: {name: dreambooth}\ndataset: {name: builtin, subject: red_cube}\n"
                           "train: {steps: method}\ndvar: {window: method, threshold: method}\n");
  BOOST_TEST(cfg::get_int(db, "train.steps") == 800);
  BOOST_TEST(cfg::get_int(db, "dvar.window") == 200);
  BOOST_TEST(cfg::get_double(db, "dvar.threshold") == 0.15);
  cfg::Node ti = completed("method: {name: textual_inversion}\ndataset: {name: builtin, subject: red_cube}\n"
                           "dvar: {window: method}\n");
  BOOST_TEST(cfg::get_int(ti, "dvar.window") == 310);
  // Without a method there is no budget to take.
  cfg::Node none = cfg::parse_yaml_text("dataset: {name: builtin, subject: red_cube}\ntrain: {steps: method}\n", {"exp.yaml", 0});
  try {
    validate_run_config(none);
    BOOST_FAIL("expected an InputError");
  } catch (const InputError& e) {
    BOOST_TEST(std::string(e.what()).find("exp.yaml:2: train.steps: 'method' takes the method's own budget") !=
               std::string::npos, e.what());
  }
  for (const auto& info : methods().infos()) {
    const MethodBudget& b = methods().get(info.name, "test").factory.budget;
    BOOST_TEST(b.steps >= 1, info.name);
    BOOST_TEST(b.batch_size >= 1, info.name);
    BOOST_TEST(!b.source.empty(), info.name << ": say where the budget comes from");
  }
}

BOOST_AUTO_TEST_CASE(the_checked_method_section_is_handed_to_the_run) {
  // Issue 37: the run reads its `method:` section once, in validate_run_config, and the
  // workload builds from that read (RunContext::method), never from the Node again.
  cfg::Node c = cfg::resolve(cfg::parse_yaml_text(
      "method: {name: lora, rank: 3}\ndataset: {name: builtin, subject: red_cube}\n", {"exp.yaml", 0}));
  const CheckedRun checked = validate_run_config(c);
  BOOST_REQUIRE(checked.method.has_value());
  BOOST_TEST(checked.method->name == "lora");
  BOOST_TEST(checked.method->build()->describe().find("r=3") != std::string::npos, checked.method->build()->describe());
  cfg::Node none = cfg::resolve(cfg::parse_yaml_text("dataset: {name: builtin, subject: red_cube}\n", {"exp.yaml", 0}));
  BOOST_TEST(!validate_run_config(none).method.has_value());
  // A workload that needs a method says so when the config has none.
  std::ostringstream log;
  RunFileWriter file(test::scratch_dir("checked_method") / "r.h5", "id", "s", "", "", Provenance{});
  RunContext ctx{none, "id", 0, 1, file, log};
  BOOST_CHECK_THROW(ctx.chosen_method(), InputError);
}

BOOST_AUTO_TEST_CASE(real_class_images_come_from_the_folder_sorted_cropped_and_resized) {
  fs::path dir = test::scratch_dir("real_class_images") / "laion_dog";
  fs::create_directories(dir);
  for (int i = 0; i < 3; ++i) {
    Image img;
    img.width = 12 + 4 * i;  // landscape: the center crop is square
    img.height = 10;
    img.rgb.assign(size_t(img.width * img.height * 3), uint8_t(40 * (i + 1)));
    write_png(dir / ("img_" + std::to_string(2 - i) + ".png"), img);
  }
  std::ofstream(dir / "notes.txt") << "not an image\n";
  std::ostringstream log;
  auto images = personalize::real_class_images(dir.string(), 2, 8, "method.class_data_dir", log);
  BOOST_REQUIRE(images.size() == 2u);
  BOOST_TEST(images[0].width == 8);
  BOOST_TEST(images[0].height == 8);
  BOOST_TEST(int(images[0].rgb[0]) == 120);  // img_0.png first: the one written last (value 3 · 40)
  BOOST_TEST(int(images[1].rgb[0]) == 80);
  BOOST_TEST(personalize::real_class_images(dir.string(), 10, 8, "k", log).size() == 3u);  // fewer: all, logged
  BOOST_TEST(log.str().find("fewer than the 10") != std::string::npos);
  BOOST_CHECK_THROW(personalize::real_class_images((dir / "nope").string(), 2, 8, "method.class_data_dir", log),
                    InputError);
}

BOOST_AUTO_TEST_CASE(metric_images_are_the_originals_at_one_side_capped_at_512) {
  BOOST_TEST(metric_image_side({96, 120}) == 96);    // small originals keep their size
  BOOST_TEST(metric_image_side({3000, 768}) == 512);  // large ones shrink to 512, never to the model's
  BOOST_TEST(metric_image_side({}) == 512);
}
