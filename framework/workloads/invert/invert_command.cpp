// `pbench invert <image> [--method ddim|null_text|edict] [--prompt P] [--model M] [--out DIR]`: one
// image through the invert workload (run_one_image_config: DIR/run.yaml, DIR/run.h5), and the
// reconstruction saved as DIR/reconstruction.png.
#include <filesystem>
#include <iostream>

#include "framework/config/access.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/invert/one_image_command.hpp"

namespace fs = std::filesystem;

namespace pbench {

int invert_command(int argc, char** argv) {
  CLI::App app{"Invert a real image into a diffusion model and reconstruct it from the inverted noise; reports the "
               "reconstruction's PSNR and SSIM to the input. Writes DIR/run.yaml (the run config), DIR/run.h5 (the "
               "run file with the per-step state, /inversion) and DIR/reconstruction.png.",
               argv[0]};
  std::string image, method = "ddim", model = "builtin:mini", out = "invert_out";
  std::string prompt;
  int64_t steps = 50, seed = 0;
  double guidance = 7.5;
  int threads = 0;
  app.add_option("image", image, "the image (PNG, JPEG; center-cropped and resized to the model)")->required();
  app.add_option("--method", method, "ddim (DDIM inversion), null_text (NULL-text inversion, arXiv 2211.09794) or edict (EDICT, arXiv 2211.12446)")
      ->check(CLI::IsMember({"ddim", "null_text", "edict"}))
      ->capture_default_str();
  app.add_option("--prompt", prompt, "the prompt inverted with (default: \"\")");
  app.add_option("--model", model, "a built-in model or a diffusers folder")->capture_default_str();
  app.add_option("--steps", steps, "DDIM steps")->check(count_in(1, 10000))->capture_default_str();
  app.add_option("--guidance", guidance, "classifier-free guidance of the reconstruction (and of null_text)")
      ->capture_default_str();
  app.add_option("--seed", seed, "the run's seed (inversion draws no noise; it names the run)")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (default: every core)")->check(count_in(1, kMaxThreads));
  app.add_option("--out", out, "output folder")->capture_default_str();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    std::error_code ec;
    if (!fs::is_regular_file(image, ec)) throw InputError(image + ": no such image file");
    cfg::Node config = cfg::Node::map();
    auto set = [&](const std::string& key, cfg::Node value) { cfg::assign(config, key, std::move(value), true); };
    set("workload", cfg::Node::string("invert"));
    set("seed", cfg::Node::integer(seed));
    set_model(config, model);
    set("invert.method", cfg::Node::string(method));
    set("invert.image", cfg::Node::string(fs::absolute(image).string()));
    set("invert.prompt", cfg::Node::string(prompt));
    set("invert.steps", cfg::Node::integer(steps));
    set("invert.guidance", cfg::Node::real(guidance));
    if (int rc = run_one_image_config(config, out, threads, "pbench invert"); rc != kExitOk) return rc;

    const fs::path run_file = fs::path(out) / "run.h5", png = fs::path(out) / "reconstruction.png";
    write_png(png, sample_image(run_file, "reconstruction"));
    std::cout << "reconstruction " << png.string() << " (" << method << ", " << steps << " steps): psnr "
              << metric_mean(run_file, "reconstruction", "psnr") << " dB, ssim "
              << metric_mean(run_file, "reconstruction", "ssim") << "; run file " << run_file.string() << "\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench invert");
  }
}

}  // namespace pbench
