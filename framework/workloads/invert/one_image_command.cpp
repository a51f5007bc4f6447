#include "framework/workloads/invert/one_image_command.hpp"

#include <fstream>

#include "framework/config/access.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/h5.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {

int run_one_image_config(const cfg::Node& config, const fs::path& out, int threads, const std::string& program) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw InputError(out.string() + ": cannot create the output folder (" + ec.message() + ")");
  const fs::path config_file = out / "run.yaml", run_file = out / "run.h5";
  {
    std::ofstream f(config_file);
    f << "# written by " << program << "; rerun with: pbench run " << config_file.string() << " --out "
      << run_file.string() << "\n"
      << cfg::to_yaml(config);
    if (!f) throw InputError(config_file.string() + ": cannot write the run config");
  }
  std::vector<std::string> args{"pbench run", config_file.string(), "--out", run_file.string()};
  if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return run_command(int(argv.size()), argv.data());
}

Image sample_image(const fs::path& run_file, const std::string& point) {
  h5::Handle file = h5::open_file(run_file.string(), false);
  h5::Handle g = h5::open_group(file.id(), "samples/" + point);
  const std::vector<hsize_t> dims = h5::dims_of(g.id(), "images");
  Image image;
  image.height = int(dims.at(1));
  image.width = int(dims.at(2));
  std::vector<uint8_t> all = h5::read_uint8s(g.id(), "images");
  image.rgb.assign(all.begin(), all.begin() + std::ptrdiff_t(size_t(image.width) * size_t(image.height) * 3));
  return image;
}

double metric_mean(const fs::path& run_file, const std::string& point, const std::string& name) {
  h5::Handle file = h5::open_file(run_file.string(), false);
  h5::Handle g = h5::open_group(file.id(), "metrics/" + point);
  return h5::attr_double(g.id(), name);
}

cfg::Node read_run_config(const fs::path& run_file) {
  h5::Handle file = h5::open_file(run_file.string(), false);
  h5::Handle g = h5::open_group(file.id(), "config");
  return cfg::parse_yaml_text(h5::read_string(g.id(), "resolved"), cfg::Origin{run_file.string() + ":/config/resolved", 0});
}

void set_model(cfg::Node& config, const std::string& model) {
  std::error_code ec;
  if (fs::is_directory(model, ec))
    cfg::assign(config, "model.path", cfg::Node::string(fs::absolute(model).string()), true);
  else
    cfg::assign(config, "model.name", cfg::Node::string(model), true);
}

}  // namespace pbench
