#pragma once
// What `pbench invert` and `pbench edit` share: the run config they build is
// written as OUT/run.yaml and executed by `pbench run` (same checks, provenance
// and run file, OUT/run.h5), and the images it stored are read back as PNGs.
#include <filesystem>
#include <string>

#include "framework/config/node.hpp"
#include "framework/io/image.hpp"

namespace pbench {

// Writes `config` to out/run.yaml and runs it into out/run.h5; the exit status of `pbench run`.
int run_one_image_config(const cfg::Node& config, const std::filesystem::path& out, int threads,
                         const std::string& program);

// Image 0 of /samples/<point> of a run file.
Image sample_image(const std::filesystem::path& run_file, const std::string& point);

// The mean of metric `name` at /metrics/<point> of a run file.
double metric_mean(const std::filesystem::path& run_file, const std::string& point, const std::string& name);

// The resolved config a run file records (/config/resolved); InputError naming the file.
cfg::Node read_run_config(const std::filesystem::path& run_file);

// `model` as the run config's model section: a folder sets model.path, anything else model.name.
void set_model(cfg::Node& config, const std::string& model);

}  // namespace pbench
