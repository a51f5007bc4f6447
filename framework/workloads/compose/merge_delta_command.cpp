// `pbench merge-delta`: several concepts' deltas of one method as one delta that applies them
// all at once (multi-concept composition, docs/methods.md "Composing concepts"), by the method's
// own rule (Method::merge_deltas): LoRA's weighted sum, Perfusion's concepts side by side, Cones'
// union of shut neurons, Custom Diffusion's constrained least squares (which needs run files: it
// encodes each concept's phrases with the runs' base model).
#include <iostream>
#include <sstream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/run/run_delta.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/method.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "framework/workloads/personalize/config.hpp"
#include "framework/workloads/pipeline_options.hpp"
#include "framework/workloads/section_checks.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

std::vector<double> parse_weights(const std::string& text, size_t count) {
  std::vector<double> out;
  if (text.empty()) return std::vector<double>(count, 1.0);
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw InputError("--weights: '" + item + "' is not a number (expected e.g. 1,0.5)");
    }
  }
  if (out.size() != count)
    throw InputError("--weights: " + std::to_string(out.size()) + " weights for " + std::to_string(count) + " deltas");
  return out;
}

// The base model and the concepts' class nouns (Custom Diffusion's merge encodes its phrases with
// them), from run files, loaded only when the rule asks: LoRA, Perfusion and Cones never do.
MergeContext merge_context(const std::vector<DeltaInput>& read, std::vector<double> weights, const std::string& captions) {
  MergeContext context(std::move(weights));
  context.captions = captions;
  for (const DeltaInput& in : read)
    if (!in.resolved) return context;  // bare deltas: the rule says what it misses
  const std::string model = personalize::read_options(*read.front().resolved).model.spec();
  for (const DeltaInput& in : read)
    if (const std::string spec = personalize::read_options(*in.resolved).model.spec(); spec != model)
      throw InputError(in.delta.string() + ": trained on " + spec + ", the first run on " + model +
                       "; merged concepts share one base model");
  auto loaded = std::make_shared<std::optional<models::Pipeline>>();
  context.base_model = [model, loaded]() -> models::Pipeline& {
    if (!*loaded) *loaded = models::load_pipeline(model);
    return **loaded;
  };
  context.class_noun = [&read, base = context.base_model](size_t k) {
    const cfg::Node& resolved = *read.at(k).resolved;
    const auto dataset = chosen_entry(resolved, "dataset", datasets());
    return dataset.entry.factory.load(dataset.section, int(base().resolution), run_cache_dir(resolved)).class_noun;
  };
  return context;
}

}  // namespace

int merge_delta_command(int argc, char** argv) {
  CLI::App app{"Merge several concepts' deltas of one method into one delta that applies them all at once "
               "(LoRA: weighted sum; Perfusion: every concept; Cones: union of shut neurons; Custom Diffusion: its paper's "
               "constrained least squares, from run files).\n"
               "Example: pbench merge-delta both.safetensors results/s/runs/<a>.h5 results/s/runs/<b>.h5",
               argv[0]};
  std::string output, method, weights_text;
  std::vector<std::string> inputs;
  app.add_option("output", output, "the merged delta to write (.safetensors)")->required();
  app.add_option("inputs", inputs, "two or more run files (<id>.h5) or deltas (.safetensors)")->required();
  app.add_option("--method", method, "the deltas' method, when bare deltas do not record it");
  app.add_option("--weights", weights_text, "one weight per delta, comma-separated (LoRA only; default all 1)");
  std::string captions = "mini_world";
  app.add_option("--merge-captions", captions,
                 "Custom Diffusion: the regularization captions, mini_world or a file (one caption per line)")
      ->capture_default_str();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    if (inputs.size() < 2) throw InputError("merge-delta: give at least two deltas to merge");
    std::vector<DeltaInput> read;
    std::vector<fs::path> protect;
    for (const std::string& i : inputs) {
      read.push_back(read_delta_input(i));
      protect.push_back(i);
      protect.push_back(read.back().delta);
    }
    refuse_to_replace_run_outputs(output, protect, "output");
    for (size_t k = 0; k < read.size(); ++k) {
      if (read[k].method.empty()) read[k].method = method;
      if (read[k].method.empty()) throw InputError(inputs[k] + ": the delta's method is not recorded; pass --method NAME");
      if (read[k].method != read.front().method || (!method.empty() && read[k].method != method))
        throw InputError(inputs[k] + ": a " + read[k].method + " delta; every input must be a " +
                         (method.empty() ? read.front().method : method) + " delta");
    }
    // Every delta is read with the first run's method options (LoRA: its alpha), else the defaults.
    cfg::Node section = cfg::parse_yaml_text("name: " + read.front().method + "\n", {"merge-delta", 0});
    for (const DeltaInput& in : read)
      if (in.resolved) {
        section = cfg::require(*in.resolved, "method");
        break;
      }
    std::vector<TensorMap> deltas;
    for (const DeltaInput& in : read) deltas.push_back(load_safetensors(in.delta));
    const MergedDelta merged =
        read_method(section).build()->merge_deltas(deltas, merge_context(read, parse_weights(weights_text, deltas.size()), captions));
    std::map<std::string, std::string> meta = {{"method", read.front().method}};
    std::vector<std::string> names;
    for (const auto& i : inputs) names.push_back(fs::path(i).filename().string());
    meta["merged_from"] = join(names, ",");
    std::string load;
    for (const auto& [key, value] : merged.load_options) {
      meta[key] = value;
      load += " method." + key + "=" + value;
    }
    save_safetensors(output, merged.tensors, meta);
    std::cout << "wrote " << output << ": " << read.front().method << " delta of " << inputs.size() << " concepts, "
              << merged.tensors.size() << " tensors" << (load.empty() ? "" : "; load it with" + load) << "\n";
    for (size_t k = 0; k < merged.concept_options.size(); ++k) {
      std::string renamed;
      for (const auto& [key, value] : merged.concept_options[k]) renamed += " method." + key + "=" + value;
      std::cout << "  concept " << k + 1 << " (" << inputs[k] << "): its prompts now name it as" << renamed << "\n";
    }
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench merge-delta");
  }
}

}  // namespace pbench
