// `pbench merge <pipeline> <run.h5 | delta> <out>`: a method baked into its base model and
// written as an ordinary diffusers pipeline folder (docs/interop.md), for tools that load a
// pipeline and know nothing of pbench's deltas. The method is attached and its delta loaded as
// a run does, every adapted layer folded into the pipeline's own weights
// (framework/train/bake_method.hpp), the folder written, and then read back as a user would: its
// UNet's prediction on the method's own prompt must equal the method's, or nothing is left behind.
#include <iostream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/run/run_delta.hpp"
#include "framework/train/bake_method.hpp"
#include "framework/train/method.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "framework/util/text_file.hpp"
#include "framework/util/version.hpp"
#include "framework/workloads/personalize/config.hpp"
#include "framework/workloads/pipeline_options.hpp"
#include "framework/workloads/section_checks.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

// The most the read-back folder's prediction may differ from the method's, relative to the
// prediction's largest entry: folding re-associates a few fp32 sums per weight (LoRA's probe,
// SVDiff's U·diag·V), which moves a UNet's output by ~1e-6 of its scale; a change the folder
// lost (an adapter left out) moves it by far more.
constexpr double kReadBackTolerance = 1e-4;

// What is merged: the method's section and subject (a run file's own), and the delta.
struct MergeSource {
  fs::path delta;
  cfg::Node method_section;
  std::string trained_on;              // the run's model spec ("" for a bare delta)
  std::optional<cfg::Node> resolved;   // the run's resolved config (a run file)
  SubjectData subject;                 // a bare delta's: words only
};

MergeSource read_source(const fs::path& input, const std::string& method, const std::vector<std::string>& sets,
                        const std::string& class_noun) {
  const DeltaInput in = read_delta_input(input);
  const std::string name = in.method.empty() ? method : in.method;
  if (name.empty()) throw InputError(input.string() + ": the delta's method is not recorded; pass --method NAME");
  if (!method.empty() && method != name) throw InputError(input.string() + ": a " + name + " delta, not " + method);
  MergeSource source;
  source.delta = in.delta;
  source.resolved = in.resolved;
  if (in.resolved) {
    source.method_section = cfg::require(*in.resolved, "method");
    source.trained_on = personalize::read_options(*in.resolved).model.spec();
  } else {
    // The method options a delta records it is loaded with: import-delta's rank and alpha,
    // merge-delta's load options (LoRA's concatenated rank, Custom Diffusion's tokens). The rest is
    // provenance.
    const std::set<std::string> provenance = {"method", "run_id", "merged_from", "imported_from", "format"};
    std::string section_text = "name: " + name + "\n";
    for (const auto& [key, value] : in.metadata)
      if (!provenance.count(key) && !starts_with(key, "pbench_")) section_text += key + ": " + value + "\n";
    source.method_section = cfg::parse_yaml_text(section_text, {input.string() + " (metadata)", 0});
    source.subject.unique_token = "sks";
    source.subject.class_noun = class_noun;
    source.subject.instance_prompt = "a sks " + class_noun;
  }
  for (const std::string& set : sets) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError("--set '" + set + "': expected key=value (a method option)");
    source.method_section.set(set.substr(0, eq),
                              cfg::parse_yaml_text(set.substr(eq + 1), cfg::Origin{"--set " + set.substr(0, eq), 0}));
  }
  return source;
}

// The UNet's prediction on a fixed latent at t = 500 for `prompt`, conditioned as sampling is.
torch::Tensor probe_prediction(models::Pipeline& pipeline, const std::string& prompt) {
  torch::NoGradGuard no_grad;
  torch::Generator generator = at::detail::createCPUGenerator(1234);
  const int64_t side = pipeline.latent_size(), channels = pipeline.unet->config().in_channels;
  torch::Tensor latent = torch::randn({1, channels, side, side}, generator).to(pipeline.unet->parameters().front().options());
  torch::Tensor context = encode_prompts(pipeline, {prompt});
  return pipeline.unet->forward(latent, torch::full({1}, 500, torch::kLong), context).to(torch::kFloat64);
}

// What was merged, beside the pipeline's own files (diffusers ignores files model_index.json does
// not name): the method, its options, the base model, the delta and the prompt to use.
void write_provenance(const fs::path& file, const std::string& method, const std::string& description,
                      const std::string& base_model, const MergeSource& source, const std::string& input,
                      const std::string& prompt) {
  nlohmann::json doc = {{"pbench_version", pbench_version()},
                        {"method", method},
                        {"described", description},
                        {"method_options", cfg::to_yaml(source.method_section)},
                        {"base_model", base_model},
                        {"trained_on", source.trained_on},
                        {"delta", fs::absolute(source.delta).string()},
                        {"from", input},
                        {"prompt", prompt}};
  write_text_file(file, doc.dump(2));
}

}  // namespace

int merge_command(int argc, char** argv) {
  CLI::App app{"Bake a method into its base model and write an ordinary diffusers pipeline folder (docs/interop.md): "
               "LoRA, LoHa, LoKr, SVDiff, IA3, DiffFit, Textual Inversion, Custom Diffusion, DreamBooth and every other "
               "method whose change is a change of weights. The folder is read back and its prediction checked against "
               "the method's before the command succeeds.\n"
               "Example: pbench merge builtin:mini results/quickstart/runs/<id>.h5 merged_pipeline/",
               argv[0]};
  std::string pipeline_spec, input, output, method, class_noun = "object";
  std::vector<std::string> sets;
  app.add_option("pipeline", pipeline_spec, "the base model: builtin:mini, builtin:tiny or a diffusers folder")->required();
  app.add_option("delta", input, "a run file (<id>.h5, its <id>.delta.safetensors beside it) or a delta.safetensors")
      ->required();
  app.add_option("output", output, "the pipeline folder to write (must not exist)")->required();
  app.add_option("--method", method, "the delta's method, when a bare delta's metadata does not say");
  app.add_option("--set", sets, "a method option for a bare delta, key=value (e.g. --set rank=8); repeatable");
  app.add_option("--class", class_noun, "a bare delta's subject class noun, for the prompt printed and checked")
      ->capture_default_str();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    if (fs::exists(output)) throw InputError(output + ": exists; merge writes a new pipeline folder (remove it or pick another)");
    MergeSource source = read_source(input, method, sets, class_noun);
    refuse_to_replace_run_outputs(output, {input, source.delta}, "output");
    const ChosenMethod chosen = read_method(source.method_section);
    if (!source.trained_on.empty() && source.trained_on != pipeline_spec)
      std::cout << "note: the run was trained on " << source.trained_on << "; merging into " << pipeline_spec << "\n";

    models::Pipeline pipeline = models::load_pipeline(pipeline_spec);
    if (source.resolved) {  // the run's subject, as its method attached to it (init words, prompts)
      const auto dataset = chosen_entry(*source.resolved, "dataset", datasets());
      source.subject = dataset.entry.factory.load(dataset.section, int(pipeline.resolution), run_cache_dir(*source.resolved));
    }
    std::unique_ptr<Method> baked = chosen.build();
    freeze_pipeline(pipeline);
    MethodTarget target{pipeline, &source.subject};  // a bare delta's: its words only (init words, prompts)
    baked->attach(target);
    baked->load_delta(load_safetensors(source.delta));
    const std::string prompt = baked->eval_prompt(source.subject.instance_prompt, source.subject);
    const torch::Tensor expected = probe_prediction(pipeline, prompt);
    bake_method_into_pipeline(pipeline, chosen.name);

    // Written beside the target and renamed into place once it reads back right.
    const fs::path partial = fs::path(output).string() + ".partial";
    fs::remove_all(partial);
    models::export_pipeline(pipeline, partial);
    models::Pipeline read_back = models::load_pipeline(partial.string());
    const double difference = (probe_prediction(read_back, prompt) - expected).abs().max().item<double>();
    const double scale = expected.abs().max().item<double>();
    if (!(difference <= kReadBackTolerance * scale)) {
      fs::remove_all(partial);
      throw InputError(chosen.name + ": the merged pipeline predicts differently from the method (largest difference " +
                       std::to_string(difference) + " of " + std::to_string(scale) +
                       "): the method changes more than the weights a diffusers folder holds; nothing was written");
    }
    write_provenance(partial / "pbench_merged.json", chosen.name, baked->describe(), pipeline_spec, source, input, prompt);
    fs::rename(partial, output);
    std::cout << "wrote " << output << ": " << pipeline_spec << " with " << baked->describe()
              << " merged in (diffusers layout; read back: largest prediction difference " << difference << " of " << scale
              << ")\n"
              << "prompt it as the method does, e.g. \"" << prompt << "\"\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench merge");
  }
}

}  // namespace pbench
