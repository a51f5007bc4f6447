// `pbench edit <image> --source "…" --target "…" [--method p2p] [--swap] [--reweight word=w]
// [--blend W1 W2] [--inversion null_text|ddim] [--model M] [--out DIR]`: one image through the edit workload
// (run_one_image_config: DIR/run.yaml, DIR/run.h5), the edit saved as DIR/edit.png and the
// unedited branch as DIR/reconstruction.png.
#include <filesystem>
#include <iostream>

#include "framework/config/access.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/invert/one_image_command.hpp"

namespace fs = std::filesystem;

namespace pbench {

int edit_command(int argc, char** argv) {
  CLI::App app{"Edit an image with Prompt-to-Prompt (arXiv 2208.01626) after NULL-text inversion: swap words of the "
               "prompt that describes it, or re-weight a word. Writes DIR/run.yaml, DIR/run.h5 (per-step state, "
               "metrics), DIR/edit.png and DIR/reconstruction.png (the same run without the edit).",
               argv[0]};
  std::string image, source, target, method = "p2p", inversion = "null_text", model = "builtin:mini", out = "edit_out";
  std::string delta;
  std::vector<std::string> reweight, blend;
  double blend_threshold = 0.3;
  bool swap = false, refine = false;
  int64_t steps = 50, seed = 0;
  double guidance = 7.5, cross_replace = 0.8, self_replace = 0.4;
  int threads = 0;
  app.add_option("image", image, "the image (PNG, JPEG; center-cropped and resized to the model)")->required();
  app.add_option("--source", source, "the prompt that describes the image, e.g. \"a red cube\"")->required();
  app.add_option("--target", target, "the edit prompt: the source with words swapped, e.g. \"a blue cube\" "
                                      "(default: the source, for re-weighting alone)");
  app.add_option("--method", method, "p2p (Prompt-to-Prompt)")->check(CLI::IsMember({"p2p"}))->capture_default_str();
  app.add_flag("--swap", swap, "word swap (what a target with swapped words does; the default)");
  app.add_flag("--refine", refine, "refinement: the target adds or removes words (\"a cube\" -> \"a striped cube\"), "
                                   "tokens aligned globally");
  app.add_option("--reweight", reweight, "word=scale: scale a target word's cross-attention (repeatable), e.g. "
                                         "--reweight red=3");
  app.add_option("--blend", blend, "local blending: a source word and an edit word, e.g. --blend cube ball; the edit "
                                   "may change only where they attend")
      ->expected(2);
  app.add_option("--blend-threshold", blend_threshold, "local blending's mask threshold (0.3 as the paper)")
      ->capture_default_str();
  app.add_option("--delta", delta, "personalized editing: a personalize run's <id>.delta.safetensors; its run file "
                                   "<id>.h5 beside it gives the method and subject, so prompts may say \"a sks dog\"");
  app.add_option("--inversion", inversion, "null_text (as the paper) or ddim")
      ->check(CLI::IsMember({"null_text", "ddim"}))
      ->capture_default_str();
  app.add_option("--cross-replace", cross_replace, "fraction of steps with the source's cross-attention")
      ->capture_default_str();
  app.add_option("--self-replace", self_replace, "fraction of steps with the source's self-attention")
      ->capture_default_str();
  app.add_option("--model", model, "a built-in model or a diffusers folder")->capture_default_str();
  app.add_option("--steps", steps, "DDIM steps")->check(count_in(1, 10000))->capture_default_str();
  app.add_option("--guidance", guidance, "classifier-free guidance")->capture_default_str();
  app.add_option("--seed", seed, "the run's seed (names the run)")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (default: every core)")->check(count_in(1, kMaxThreads));
  app.add_option("--out", out, "output folder")->capture_default_str();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    if (refine && swap) throw InputError("pbench edit: --swap and --refine exclude each other");
    std::error_code ec;
    if (!fs::is_regular_file(image, ec)) throw InputError(image + ": no such image file");
    if (target.empty()) target = source;
    cfg::Node config = cfg::Node::map();
    auto set = [&](const std::string& key, cfg::Node value) { cfg::assign(config, key, std::move(value), true); };
    set("workload", cfg::Node::string("edit"));
    set("seed", cfg::Node::integer(seed));
    set_model(config, model);
    set("edit.image", cfg::Node::string(fs::absolute(image).string()));
    set("edit.source", cfg::Node::string(source));
    set("edit.target", cfg::Node::string(target));
    set("edit.inversion", cfg::Node::string(inversion));
    set("edit.steps", cfg::Node::integer(steps));
    set("edit.guidance", cfg::Node::real(guidance));
    set("edit.cross_replace", cfg::Node::real(cross_replace));
    set("edit.self_replace", cfg::Node::real(self_replace));
    set("edit.refine", cfg::Node::boolean(refine));
    cfg::Node words = cfg::Node::list();
    for (const auto& r : reweight) words.push_back(cfg::Node::string(r));
    set("edit.reweight", words);
    cfg::Node blend_words = cfg::Node::list();
    for (const auto& w : blend) blend_words.push_back(cfg::Node::string(w));
    set("edit.blend_words", blend_words);
    set("edit.blend_threshold", cfg::Node::real(blend_threshold));
    if (!delta.empty()) {
      // The delta's own run file holds the method and dataset sections it was trained with.
      const std::string suffix = ".delta.safetensors";
      const fs::path run_of_delta =
          delta.size() > suffix.size() && delta.compare(delta.size() - suffix.size(), suffix.size(), suffix) == 0
              ? fs::path(delta.substr(0, delta.size() - suffix.size()) + ".h5")
              : fs::path();
      if (run_of_delta.empty() || !fs::is_regular_file(run_of_delta, ec))
        throw InputError(delta + ": expected a personalize run's <id>.delta.safetensors with its run file <id>.h5 "
                         "beside it (for another delta, write a run config with edit.delta, method and dataset)");
      const cfg::Node trained = read_run_config(run_of_delta);
      for (const char* section : {"method", "dataset"}) {
        const cfg::Node* value = trained.find(section);
        if (!value) throw InputError(run_of_delta.string() + ": /config/resolved has no " + section + " section");
        set(section, *value);
      }
      set("edit.delta", cfg::Node::string(fs::absolute(delta).string()));
    }
    if (int rc = run_one_image_config(config, out, threads, "pbench edit"); rc != kExitOk) return rc;

    const fs::path run_file = fs::path(out) / "run.h5";
    write_png(fs::path(out) / "edit.png", sample_image(run_file, "edit"));
    write_png(fs::path(out) / "reconstruction.png", sample_image(run_file, "reconstruction"));
    std::cout << "edit " << (fs::path(out) / "edit.png").string() << " (\"" << source << "\" -> \"" << target
              << "\"): clip_t to the target " << metric_mean(run_file, "edit", "clip_t") << " (unedited "
              << metric_mean(run_file, "reconstruction", "clip_t") << "), dino to the image "
              << metric_mean(run_file, "edit", "dino_source") << "; run file " << run_file.string() << "\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench edit");
  }
}

}  // namespace pbench
