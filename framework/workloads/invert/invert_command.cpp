// `pbench invert <image> [--method ddim|null_text|edict] [--prompt P] [--model M] [--out DIR]`: one
// image through the invert workload. It writes the run config it executes (DIR/run.yaml), runs
// it as `pbench run` does (same checks, provenance and run file: DIR/run.h5), and saves the
// reconstruction as DIR/reconstruction.png.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/io/image.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

namespace {

// The reconstruction stored in a complete invert run file, as an image.
Image reconstruction_of(const fs::path& run_file) {
  h5::Handle file = h5::open_file(run_file.string(), false);
  h5::Handle g = h5::open_group(file.id(), "samples/reconstruction");
  std::vector<hsize_t> dims = h5::dims_of(g.id(), "images");
  Image image;
  image.height = int(dims.at(1));
  image.width = int(dims.at(2));
  image.rgb = h5::read_uint8s(g.id(), "images");
  return image;
}

}  // namespace

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
  app.add_option("--steps", steps, "DDIM steps")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--guidance", guidance, "classifier-free guidance of the reconstruction (and of null_text)")
      ->capture_default_str();
  app.add_option("--seed", seed, "the run's seed (inversion draws no noise; it names the run)")->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (default: every core)");
  app.add_option("--out", out, "output folder")->capture_default_str();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    std::error_code ec;
    if (!fs::is_regular_file(image, ec)) throw InputError(image + ": no such image file");
    fs::create_directories(out, ec);
    if (ec) throw InputError(out + ": cannot create the output folder (" + ec.message() + ")");

    cfg::Node config = cfg::Node::map();
    auto set = [&](const std::string& key, cfg::Node value) { cfg::assign(config, key, std::move(value), true); };
    set("workload", cfg::Node::string("invert"));
    set("seed", cfg::Node::integer(seed));
    set(fs::is_directory(model, ec) ? "model.path" : "model.name",
        cfg::Node::string(fs::is_directory(model, ec) ? fs::absolute(model).string() : model));
    set("invert.method", cfg::Node::string(method));
    set("invert.image", cfg::Node::string(fs::absolute(image).string()));
    set("invert.prompt", cfg::Node::string(prompt));
    set("invert.steps", cfg::Node::integer(steps));
    set("invert.guidance", cfg::Node::real(guidance));
    const fs::path config_file = fs::path(out) / "run.yaml";
    {
      std::ofstream f(config_file);
      f << "# written by pbench invert; rerun with: pbench run " << config_file.string() << " --out "
        << (fs::path(out) / "run.h5").string() << "\n"
        << cfg::to_yaml(config);
      if (!f) throw InputError(config_file.string() + ": cannot write the run config");
    }
    const fs::path run_file = fs::path(out) / "run.h5";
    std::vector<std::string> args{"pbench run", config_file.string(), "--out", run_file.string()};
    if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
    std::vector<char*> argv_run;
    for (auto& a : args) argv_run.push_back(a.data());
    if (int rc = run_command(int(argv_run.size()), argv_run.data()); rc != kExitOk) return rc;

    const fs::path png = fs::path(out) / "reconstruction.png";
    write_png(png, reconstruction_of(run_file));
    h5::Handle file = h5::open_file(run_file.string(), false);
    h5::Handle metrics = h5::open_group(file.id(), "metrics/reconstruction");
    std::cout << "reconstruction " << png.string() << " (" << method << ", " << steps << " steps): psnr "
              << h5::attr_double(metrics.id(), "psnr") << " dB, ssim " << h5::attr_double(metrics.id(), "ssim")
              << "; run file " << run_file.string() << "\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench invert");
  }
}

}  // namespace pbench
