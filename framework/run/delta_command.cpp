// `pbench export-delta` and `pbench import-delta`: a run's learned delta in the
// key layouts of diffusers / PEFT / kohya (A1111, ComfyUI), and theirs back into
// pbench's (framework/tensor/delta_formats.hpp, docs/interop.md).
#include <iostream>

#include "framework/config/access.hpp"
#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/run/run_delta.hpp"
#include "framework/tensor/delta_formats.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

// What the run file says about the delta beside it (<run>.delta.safetensors).
interop::DeltaInfo info_from_run(const fs::path& run, const cfg::Node& resolved) {
  interop::DeltaInfo info;
  info.run_id = h5::attr_string(h5::open_file(run.string(), false).id(), "run_id");
  info.method = cfg::get_string(resolved, "method.name");
  info.base_model = cfg::get_string(resolved, "model.path", cfg::get_string(resolved, "model.name", ""));
  if (const cfg::Node* alpha = cfg::lookup(resolved, "method.alpha"); alpha && alpha->is_number()) info.alpha = alpha->as_double();
  if (info.method == "custom_diffusion")  // "<new1>+<new2>": the delta's token rows, in order
    info.tokens = split_nonempty(cfg::get_string(resolved, "method.modifier_token", "<new1>"), '+');
  return info;
}

}  // namespace

int export_delta_command(int argc, char** argv) {
  CLI::App app{"Write a run's delta in another tool's key layout (docs/interop.md).\n"
               "Example: pbench export-delta results/quickstart/runs/<id>.h5 my_lora.safetensors --format kohya",
               argv[0]};
  std::string input, output, format, method;
  double alpha = 0;
  app.add_option("input", input, "a run file (<id>.h5, its <id>.delta.safetensors beside it) or a delta.safetensors")->required();
  app.add_option("output", output, "the file to write (.safetensors)")->required();
  app.add_option("--format", format, "diffusers, peft, kohya or a1111 (as the method supports)")->required();
  app.add_option("--alpha", alpha, "LoRA alpha, when the input is a bare delta (a run file records it)");
  app.add_option("--method", method, "the delta's method, when a bare delta's metadata does not say");
  std::string base_model;
  app.add_option("--base-model", base_model,
                 "the model the delta was trained on (builtin:mini, builtin:tiny or a diffusers folder), when a bare "
                 "delta's layout depends on it: LoRA on convs in kohya's layout, P+ (a run file records it)");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    const DeltaInput in = read_delta_input(input);
    const fs::path& delta_path = in.delta;
    interop::DeltaInfo info;
    if (in.resolved) {
      info = info_from_run(input, *in.resolved);
    } else {
      info.method = in.method.empty() ? method : in.method;
      info.run_id = in.metadata.count("run_id") ? in.metadata.at("run_id") : "";
    }
    refuse_to_replace_run_outputs(output, {input, delta_path}, "output");
    if (!method.empty() && method != info.method)
      throw InputError(input + ": a " + info.method + " delta, not " + method);
    if (info.method.empty()) throw InputError(input + ": the delta's method is not recorded; pass --method NAME");
    if (alpha > 0) info.alpha = alpha;
    if (!base_model.empty()) info.base_model = base_model;
    if (interop::needs_base_unet(info.method, format) && !info.base_model.empty()) describe_base_unet(info, info.base_model);
    const bool scaled = interop::has_alpha(info.method);
    if (scaled && !(info.alpha > 0))
      throw InputError(input + ": " + info.method + " alpha unknown (a bare delta does not record it); pass --alpha A");
    interop::DeltaFile out = interop::export_delta(load_safetensors(delta_path), info, format);
    std::vector<fs::path> companions;  // written beside the output (Custom Diffusion's token embeddings)
    for (const auto& [name, tensors] : out.companions) {
      companions.push_back(fs::path(output).parent_path() / name);
      refuse_to_replace_run_outputs(companions.back(), {input, delta_path}, "output");
    }
    save_safetensors(output, out.tensors, out.metadata);
    for (size_t k = 0; k < companions.size(); ++k) save_safetensors(companions[k], out.companions[k].second, out.metadata);
    std::cout << "wrote " << output << ": " << info.method << " delta, " << out.tensors.size() << " tensors, "
              << format << " layout" << (scaled ? ", alpha " + std::to_string(info.alpha) : "") << "\n";
    for (const fs::path& c : companions) std::cout << "wrote " << c.string() << " beside it (a token embedding)\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench export-delta");
  }
}

int import_delta_command(int argc, char** argv) {
  CLI::App app{"Read a delta written by another tool into pbench's keys (docs/interop.md).\n"
               "Example: pbench import-delta their_lora.safetensors lora.delta.safetensors --method lora --format kohya",
               argv[0]};
  std::string input, output, format, method;
  app.add_option("input", input, "the other tool's .safetensors")->required();
  app.add_option("output", output, "pbench delta to write (.safetensors, the layout `method.delta()` has)")->required();
  app.add_option("--method", method, "lora, loha, lokr, textual_inversion, custom_diffusion or p_plus")->required();
  app.add_option("--format", format, "diffusers, peft, kohya or a1111")->required();
  std::vector<std::string> embeddings;
  app.add_option("--embedding", embeddings,
                 "custom_diffusion: the modifier token's <token>.safetensors (diffusers writes one per token beside "
                 "the weights); repeat it for several tokens, in order");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    refuse_to_replace_run_outputs(output, {input}, "output");
    interop::DeltaFile in{load_safetensors(input), delta_file_metadata(input)};
    for (const std::string& e : embeddings) in.companions.emplace_back(e, load_safetensors(e));
    interop::DeltaInfo info;
    TensorMap delta = interop::import_delta(in, method, format, info, input);
    std::map<std::string, std::string> meta = {{"method", method}, {"imported_from", fs::path(input).filename().string()},
                                               {"format", format}};
    const bool scaled = interop::has_alpha(method);
    if (scaled) meta["alpha"] = std::to_string(info.alpha), meta["rank"] = std::to_string(info.rank);
    std::string load;  // the method keys the delta loads with, beyond the defaults
    if (method == "custom_diffusion") {
      load = " (load it with method.modifier_token=\"" + join(info.tokens, "+") + "\"";
      for (const auto& [key, t] : delta)
        if (key.find(".attn2.to_q.") != std::string::npos) {
          load += " method.freeze_model=crossattn";
          break;
        }
      load += ")";
    }
    if (method == "p_plus") load = " (load it with method.placeholder=\"" + delta.begin()->first + "\")";
    save_safetensors(output, delta, meta);
    std::cout << "wrote " << output << ": " << method << " delta, " << delta.size() << " tensors"
              << (scaled ? ", rank " + std::to_string(info.rank) + ", alpha " + std::to_string(info.alpha) +
                                         " (set method.rank and method.alpha to these)"
                                   : "")
              << load << "\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench import-delta");
  }
}

}  // namespace pbench
