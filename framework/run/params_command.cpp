// `pbench params <config.json or model folder> [--json]`: exact parameter
// counts of the architecture a config describes, without its weights.
// `pbench params --methods all [--base <unet config.json>] [--json]`: one row
// per registered method (or a comma-separated list) on SD v1.5 or the given
// UNet: what it trains, trainable parameters, delta bytes, % of the UNet.
// Every method is attached to a meta-device pipeline (shapes only), with its
// registry defaults = its paper defaults.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/util/cli.hpp"
#include "framework/config/schema.hpp"
#include "framework/models/hf/param_count.hpp"
#include "framework/models/sd/unet_config.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/train/method.hpp"
#include "framework/util/errors.hpp"

namespace pbench {
namespace {

struct MethodRow {
  std::string name;
  MethodCounts counts;
};

std::vector<MethodRow> count_methods(const std::string& list, const std::string& base) {
  std::vector<std::string> names;
  if (list == "all") {
    names = methods().names();
  } else {
    std::stringstream ss(list);
    for (std::string n; std::getline(ss, n, ',');) names.push_back(n);
  }
  std::vector<MethodRow> rows;
  for (const auto& name : names) {
    const ChosenMethod method{name, methods().get(name, "--methods").factory.read(cfg::Node::null())};
    models::Pipeline pipeline = models::sd15_meta_pipeline();
    if (!base.empty())
      pipeline.unet = models::UNet2DCondition(models::UNetConfig::from_file(base),
                                              torch::TensorOptions().device(torch::kMeta));
    rows.push_back(MethodRow{name, count_method(method, pipeline)});
  }
  return rows;
}

std::string human(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

// docs/methods.md's count table (tests/cli checks the committed one equals this).
void print_markdown(std::vector<MethodRow> rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const MethodRow& a, const MethodRow& b) { return a.counts.trainable < b.counts.trainable; });
  std::cout << "| method | trainable | delta fp16 (bytes) | % of UNet | trains |\n|---|---:|---:|---:|---|\n";
  for (const auto& r : rows) {
    char percent[32];
    std::snprintf(percent, sizeof percent, "%.4f", 100.0 * double(r.counts.trainable) / double(r.counts.unet_total));
    std::cout << "| " << r.name << " | " << human(r.counts.trainable) << " | " << human(r.counts.delta_bytes_fp16) << " | "
              << percent << " | " << r.counts.describe << " |\n";
  }
}

void print_rows(const std::vector<MethodRow>& rows, const std::string& base, bool json) {
  if (json) {
    nlohmann::ordered_json doc;
    doc["base"] = base.empty() ? "sd15" : base;
    doc["methods"] = nlohmann::ordered_json::array();
    for (const auto& r : rows)
      doc["methods"].push_back({{"method", r.name},
                                {"trains", r.counts.describe},
                                {"trainable", r.counts.trainable},
                                {"delta_bytes_fp32", r.counts.delta_bytes_fp32},
                                {"delta_bytes_fp16", r.counts.delta_bytes_fp16},
                                {"unet_total", r.counts.unet_total},
                                {"percent_of_unet", 100.0 * double(r.counts.trainable) / double(r.counts.unet_total)}});
    std::cout << doc.dump(2) << "\n";
    return;
  }
  std::cout << "base: " << (base.empty() ? "SD v1.5 (UNet " + human(rows.empty() ? 0 : rows[0].counts.unet_total) + ")" : base)
            << "\n";
  std::printf("%-20s %15s %15s %15s %10s  %s\n", "method", "trainable", "delta fp32 (B)", "delta fp16 (B)", "% UNet",
              "trains");
  for (const auto& r : rows)
    std::printf("%-20s %15s %15s %15s %9.4f%%  %s\n", r.name.c_str(), human(r.counts.trainable).c_str(),
                human(r.counts.delta_bytes_fp32).c_str(), human(r.counts.delta_bytes_fp16).c_str(),
                100.0 * double(r.counts.trainable) / double(r.counts.unet_total), r.counts.describe.c_str());
}

}  // namespace

int params_command(int argc, char** argv) {
  CLI::App app{"Exact parameter counts of a model from its config alone (per component and top-level module),\n"
               "or of every method on SD v1.5 (--methods all).",
               argv[0]};
  std::string path, method_list, base;
  bool json = false, markdown = false;
  app.add_option("config", path, "a Hugging Face / diffusers config.json or a model folder holding one");
  app.add_option("--methods", method_list, "'all' or a comma-separated list of registered methods");
  app.add_option("--base", base, "UNet config.json the methods attach to (default: SD v1.5, built in)");
  app.add_flag("--json", json, "print one JSON document instead of the table");
  app.add_flag("--markdown", markdown, "with --methods: a Markdown table sorted by trainable count (docs/methods.md's)");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    if (!method_list.empty()) {
      if (markdown)
        print_markdown(count_methods(method_list, base));
      else
        print_rows(count_methods(method_list, base), base, json);
      return kExitOk;
    }
    if (path.empty()) throw InputError("pbench params: give a config.json / model folder, or --methods all");
    models::ParamCount count = models::count_params_from_config(path);
    std::cout << (json ? models::param_count_json(count) + "\n" : models::param_count_table(count));
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench params");
  }
}

}  // namespace pbench
