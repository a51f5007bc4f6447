// `pbench run <run.yaml>`: execute one run and leave its HDF5 file.
// The YAML is composed like any experiment file (so a hand-written run file
// with a defaults list works), resolved, checked, and executed by the
// workload it names. A handled failure is recorded in the run file (status
// failed, error) and exits 1; a config error exits 2 before any file exists.
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <csignal>
#include <chrono>
#include <fstream>
#include <iostream>

#include "framework/util/cli.hpp"
#include "framework/config/access.hpp"
#include "framework/config/compose.hpp"
#include "framework/config/resolve.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/run/catalog.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/run/workload.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/thread_env.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {
// The process's peak resident memory (VmHWM), recorded as /@peak_rss_bytes.
int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // reported in kB
  return -1;
}
}  // namespace

int run_command(int argc, char** argv) {
  CLI::App app{"Execute exactly one run (what run_sweep's workers call) and write its HDF5 run file.", argv[0]};
  std::string file;
  std::vector<std::string> override_texts;
  int threads = 0;
  std::string out;
  app.add_option("run_yaml", file, "run config (as written to results/<sweep>/configs/<id>.yaml)")->required();
  app.add_option("overrides", override_texts, "overrides: key=value, +key=value, ++key=value, ~key");
  app.add_option("--threads", threads, "intra-op threads (default: runtime.threads, else every core)")
      ->check(count_in(1, kMaxThreads));
  app.add_option("--out", out, "run file path (default: runtime.output, else results/<sweep>/runs/<id>.h5)");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  // Past a file-size limit (ulimit -f, a quota) the kernel would kill the run with
  // SIGXFSZ before it could say why; ignored, the write fails with EFBIG and the run
  // ends as a handled error.
  signal(SIGXFSZ, SIG_IGN);

  try {
    const std::vector<cfg::Override> overrides = cfg::parse_command_line_overrides(override_texts);
    for (const auto& o : overrides)
      if (o.sweep)
        throw InputError("command line '" + o.text + "': pbench run executes one run; use run_sweep for sweeps");
    install_builtin_group_options();
    cfg::ComposeResult composed = cfg::compose(file, overrides);
    if (!composed.sweep.is_null() && cfg::lookup(composed.sweep, "params"))
      throw InputError(composed.primary_display + ": sweep.params: this file describes a sweep; run it with run_sweep");
    cfg::Node resolved = cfg::resolve(composed.config);
    cfg::require_no_missing(resolved);
    const CheckedRun checked = validate_run_config(resolved);
    std::string id = cfg::run_id(resolved);
    std::string sweep = cfg::get_string(resolved, "runtime.sweep", fs::path(file).stem().string());
    fs::path output = !out.empty() ? fs::path(out)
                                   : fs::path(cfg::get_string(resolved, "runtime.output",
                                                              (fs::path("results") / sweep / "runs" / (id + ".h5")).string()));
    // A file named after a run id holds that run: overrides on a config that run_sweep
    // wrote change the id, and the result must not land under the old run's name
    // (run_sweep would then take a different run for the one it planned).
    if (output.stem().string() != id && output.extension() == ".h5" && cfg::looks_like_run_id(output.stem().string()))
      throw InputError(out.empty() ? composed.primary_display + ": the overrides change this run (its id is now " + id +
                                         ", not " + output.stem().string() + "), so its file cannot be " +
                                         output.string() +
                                         "; pass --out FILE, or add the overrides to the sweep and run it with run_sweep"
                                   : "--out " + output.string() + ": a file named after run " + output.stem().string() +
                                         " holds that run, and this is run " + id + "; choose another --out");
    // A complete run file of another run is never replaced (issue 41); this run's own may be redone.
    if (const auto done = complete_run_summary(output); done && done->run_id != id)
      throw InputError(output.string() + ": holds the complete run " + done->run_id + ", and this is run " + id +
                       "; choose another --out");
    std::error_code ec;
    if (fs::is_directory(output, ec))
      throw InputError(output.string() + ": is a folder; the run file needs a file name (--out FILE.h5)");
    if (threads <= 0) threads = int(cfg::get_int(resolved, "runtime.threads", available_cores()));
    if (threads <= 0) throw InputError(composed.primary_display + ": runtime.threads: expected a positive integer");
    at::set_num_threads(threads);
    int64_t seed = cfg::get_int(resolved, "seed", 0);
    std::string workload_name = cfg::get_string(resolved, "workload", kDefaultWorkload);
    const auto& workload = workloads().get(workload_name, composed.primary_display + ": workload");

    Provenance prov = current_provenance();
    prov.torch_version = TORCH_VERSION;
    prov.threads = threads;
    RunFileWriter writer(output, id, sweep, cfg::to_yaml(composed.config), cfg::to_yaml(resolved), prov);
    std::cerr << "[pbench run] " << id << " (" << workload_name << ", seed " << seed << ", " << threads
              << " threads) -> " << writer.partial_path().string() << "\n";
    auto start = std::chrono::steady_clock::now();
    try {
      RunContext ctx{resolved, id, seed, threads, writer, std::cerr, checked.method ? &*checked.method : nullptr};
      workload.factory.run(ctx);
    } catch (const std::exception& e) {
      writer.fail(e.what());
      std::cerr << "[pbench run] " << id << " failed: " << e.what() << " (recorded in " << output.string() << ")\n";
      return kExitFailed;
    }
    h5::set_attr(writer.root(), "peak_rss_bytes", peak_rss_bytes());
    writer.complete();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << "[pbench run] " << id << " complete in " << seconds << " s -> " << output.string() << "\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench run");
  }
}

}  // namespace pbench
