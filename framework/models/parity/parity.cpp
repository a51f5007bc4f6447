#include "framework/models/parity/parity.hpp"

#include <fnmatch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "framework/util/errors.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace pbench::parity {

namespace {

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

double number_at(const json& j, const std::string& key, const std::string& file) {
  if (!j.is_number())
    throw InputError(file + ": " + key + ": expected a number, got " + j.dump());
  return j.get<double>();
}

// Splits "<case>.in.<x>" / "<case>.out.<x>" at the first marker.
struct SplitName {
  std::string case_name;
  enum Kind { kInput, kOutput, kTopLevel } kind;
  std::string short_name;
};
SplitName split_name(const std::string& name) {
  auto in = name.find(".in.");
  auto out = name.find(".out.");
  if (in == std::string::npos && out == std::string::npos) return {"", SplitName::kTopLevel, name};
  if (out == std::string::npos || (in != std::string::npos && in < out))
    return {name.substr(0, in), SplitName::kInput, name.substr(in + 4)};
  return {name.substr(0, out), SplitName::kOutput, name.substr(out + 5)};
}

struct CaseData {
  TensorMap inputs;                      // short name -> tensor
  std::map<std::string, torch::Tensor> expected;  // short name -> tensor
};

std::string full_output_name(const std::string& case_name, const std::string& short_name) {
  return case_name.empty() ? short_name : case_name + ".out." + short_name;
}

OutputResult failure_row(const std::string& name, const std::string& note) {
  OutputResult r;
  r.name = name;
  r.pass = false;
  r.note = note;
  return r;
}

}  // namespace

// --- Tolerance ---------------------------------------------------------------

Tolerance Tolerance::read(const fs::path& file) {
  const std::string where = file.string();
  std::ifstream in(file);
  if (!in) throw InputError(where + ": cannot open (every parity folder needs tolerance.json)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(where + ": expected valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw InputError(where + ": expected a JSON object");

  Tolerance t;
  if (j.contains("default_atol")) t.default_atol = number_at(j["default_atol"], "default_atol", where);
  if (j.contains("per_output")) {
    if (!j["per_output"].is_object()) throw InputError(where + ": per_output: expected an object name -> atol");
    for (const auto& [k, v] : j["per_output"].items()) t.per_output[k] = number_at(v, "per_output." + k, where);
  }
  if (j.contains("informational")) {
    if (!j["informational"].is_array()) throw InputError(where + ": informational: expected a list of patterns");
    for (const auto& p : j["informational"]) {
      if (!p.is_string()) throw InputError(where + ": informational: expected strings, got " + p.dump());
      t.informational.push_back(p.get<std::string>());
    }
  }
  if (j.contains("integer_outputs")) {
    const json& v = j["integer_outputs"];
    if (v.is_string() && v.get<std::string>() == "exact")
      t.integer_atol = 0.0;
    else
      t.integer_atol = number_at(v, "integer_outputs (\"exact\" or a number)", where);
  }
  if (j.contains("uint8_outputs_atol")) t.uint8_atol = number_at(j["uint8_outputs_atol"], "uint8_outputs_atol", where);
  if (j.contains("preprocess")) {
    const json& p = j["preprocess"];
    for (const char* key : {"input", "compare_to"})
      if (!p.is_object() || !p.contains(key) || !p[key].is_string())
        throw InputError(where + ": preprocess." + key + ": expected a tensor name");
    if (!p.contains("atol")) throw InputError(where + ": preprocess.atol: expected a number");
    t.preprocess = Preprocess{p["input"].get<std::string>(), p["compare_to"].get<std::string>(),
                              number_at(p["atol"], "preprocess.atol", where)};
  }
  if (j.contains("also_load")) {
    if (!j["also_load"].is_array()) throw InputError(where + ": also_load: expected a list of file names");
    for (const auto& f : j["also_load"]) {
      if (!f.is_string()) throw InputError(where + ": also_load: expected file names, got " + f.dump());
      t.also_load.push_back(f.get<std::string>());
    }
  }
  return t;
}

bool Tolerance::is_informational(const std::string& full_name) const {
  for (const auto& p : informational)
    if (glob_match(p, full_name)) return true;
  return false;
}

double Tolerance::atol_for(const std::string& full_name, torch::ScalarType dtype) const {
  if (auto it = per_output.find(full_name); it != per_output.end()) return it->second;
  for (const auto& [pattern, atol] : per_output)
    if (glob_match(pattern, full_name)) return atol;
  if (dtype == torch::kUInt8) return uint8_atol;
  if (!c10::isFloatingType(dtype)) return integer_atol;
  return default_atol;
}

// --- CaseInputs --------------------------------------------------------------

CaseInputs::CaseInputs(std::string case_name, TensorMap inputs, std::vector<std::string> expected_outputs)
    : case_name_(std::move(case_name)), inputs_(std::move(inputs)), expected_(std::move(expected_outputs)) {}

const torch::Tensor& CaseInputs::get(const std::string& key) {
  auto it = inputs_.find(key);
  if (it == inputs_.end())
    throw InputError("cases.safetensors: case '" + case_name_ + "': expected input tensor '" + case_name_ + ".in." +
                     key + "'");
  consumed_.insert(key);
  return it->second;
}

std::optional<torch::Tensor> CaseInputs::get_optional(const std::string& key) {
  auto it = inputs_.find(key);
  if (it == inputs_.end()) return std::nullopt;
  consumed_.insert(key);
  return it->second;
}

std::vector<std::string> CaseInputs::unconsumed() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : inputs_)
    if (!consumed_.count(key)) out.push_back(key);
  return out;
}

// --- comparison --------------------------------------------------------------

OutputResult compare_output(const std::string& name, const torch::Tensor& expected, const torch::Tensor& produced,
                            double atol, bool informational) {
  OutputResult r;
  r.name = name;
  r.atol = atol;
  r.informational = informational;
  if (!produced.defined()) {
    r.note = "produced tensor is undefined";
  } else if (produced.sizes() != expected.sizes()) {
    std::ostringstream s;
    s << "shape " << produced.sizes() << ", expected " << expected.sizes();
    r.note = s.str();
  } else {
    // float64 holds every float32 and every int64 below 2^53 exactly, and a
    // NaN anywhere propagates through max() and fails the gate.
    torch::Tensor a = expected.detach().to(torch::kCPU, torch::kFloat64);
    torch::Tensor b = produced.detach().to(torch::kCPU, torch::kFloat64);
    double max_abs = a.numel() == 0 ? 0.0 : (a - b).abs().max().item<double>();
    if (a.numel() && (torch::isnan(b).any().item<bool>() || torch::isnan(a).any().item<bool>()))
      max_abs = std::nan("");
    r.max_abs = max_abs;
    r.pass = max_abs <= atol;  // false for NaN
    if (!r.pass && std::isnan(max_abs)) r.note = "NaN";
  }
  // An informational row is reported, never gates.
  if (informational) r.pass = true;
  return r;
}

// --- run ---------------------------------------------------------------------

Report run(const Component& component, const fs::path& folder) {
  if (!fs::is_directory(folder)) throw InputError(folder.string() + ": expected a parity folder (directory)");
  if (component.run_folder) return component.run_folder(folder);

  const Tolerance tol = Tolerance::read(folder / "tolerance.json");
  const fs::path cases_file = folder / "cases.safetensors";
  if (!fs::exists(cases_file)) throw InputError(cases_file.string() + ": missing (every parity folder needs it)");
  const TensorMap all = load_safetensors(cases_file);

  std::map<std::string, CaseData> cases;  // "" = top-level outputs
  for (const auto& [name, tensor] : all) {
    SplitName s = split_name(name);
    if (s.kind == SplitName::kInput)
      cases[s.case_name].inputs[s.short_name] = tensor;
    else
      cases[s.case_name].expected[s.short_name] = tensor;
  }

  Report report;
  report.component = component.name;
  std::vector<std::string> weight_files = {"model.safetensors"};
  weight_files.insert(weight_files.end(), tol.also_load.begin(), tol.also_load.end());

  for (std::size_t pass = 0; pass < weight_files.size(); ++pass) {
    const std::string prefix = pass == 0 ? "" : weight_files[pass] + ":";
    Runner runner = component.load(folder, weight_files[pass]);

    for (auto& [case_name, data] : cases) {
      TensorMap inputs = data.inputs;
      if (tol.preprocess && runner.preprocess && inputs.count(tol.preprocess->input)) {
        // The harness feeds the component's preprocessing itself, so the
        // raw input counts as consumed by this comparison.
        torch::Tensor pre = runner.preprocess(inputs.at(tol.preprocess->input));
        inputs.erase(tol.preprocess->input);
        auto stored = inputs.find(tol.preprocess->compare_to);
        if (stored != inputs.end()) {
          report.outputs.push_back(compare_output(prefix + case_name + ".preprocess." + tol.preprocess->compare_to,
                                                  stored->second, pre, tol.preprocess->atol, false));
        } else {
          inputs[tol.preprocess->compare_to] = pre;
        }
      }

      std::vector<std::string> expected_names;
      for (const auto& [short_name, tensor] : data.expected) expected_names.push_back(short_name);
      CaseInputs case_inputs(case_name, inputs, expected_names);
      TensorMap produced;
      try {
        produced = runner.run_case(case_inputs);
      } catch (const InputError&) {
        throw;
      } catch (const std::exception& e) {
        report.outputs.push_back(
            failure_row(prefix + (case_name.empty() ? "<top-level>" : case_name), std::string("error: ") + e.what()));
        continue;
      }

      for (const auto& [short_name, expected] : data.expected) {
        const std::string full = full_output_name(case_name, short_name);
        const bool info = tol.is_informational(full);
        auto it = produced.find(short_name);
        if (it == produced.end()) {
          OutputResult r = failure_row(prefix + full, "not produced");
          r.informational = info;
          r.pass = info;
          report.outputs.push_back(r);
          continue;
        }
        report.outputs.push_back(
            compare_output(prefix + full, expected, it->second, tol.atol_for(full, expected.scalar_type()), info));
      }
      for (const auto& key : case_inputs.unconsumed())
        report.outputs.push_back(failure_row(prefix + case_name + ".in." + key, "input not consumed"));
    }
  }

  report.pass = !report.outputs.empty();
  for (const auto& r : report.outputs) report.pass = report.pass && r.pass;
  return report;
}

const Component* find_component(const std::string& name) {
  for (const auto& c : parity_components())
    if (c.name == name) return &c;
  return nullptr;
}

// --- reports -----------------------------------------------------------------

std::string report_json(const Report& report) {
  // Keys in the order of the contract: component, pass, outputs; name, max_abs, atol, pass.
  using ordered = nlohmann::ordered_json;
  ordered outputs = ordered::array();
  for (const auto& r : report.outputs) {
    ordered row;
    row["name"] = r.name;
    row["max_abs"] = r.max_abs && !std::isnan(*r.max_abs) ? ordered(*r.max_abs) : ordered(nullptr);
    row["atol"] = r.atol ? ordered(*r.atol) : ordered(nullptr);
    row["pass"] = r.pass;
    outputs.push_back(row);
  }
  ordered doc;
  doc["component"] = report.component;
  doc["pass"] = report.pass;
  doc["outputs"] = outputs;
  return doc.dump();
}

std::string report_table(const Report& report) {
  std::size_t width = 6;
  for (const auto& r : report.outputs) width = std::max(width, r.name.size());
  auto pad = [](std::string s, std::size_t w) { return s + std::string(w > s.size() ? w - s.size() : 0, ' '); };
  auto num = [](std::optional<double> v) {
    if (!v) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", *v);
    return std::string(buf);
  };
  std::string out = pad("output", width) + "  " + pad("max|d|", 10) + "  " + pad("atol", 10) + "  result\n";
  int gated = 0, passed = 0;
  for (const auto& r : report.outputs) {
    std::string result = r.informational ? "info" : (r.pass ? "PASS" : "FAIL");
    if (!r.note.empty()) result += " (" + r.note + ")";
    out += pad(r.name, width) + "  " + pad(num(r.max_abs), 10) + "  " + pad(num(r.atol), 10) + "  " + result + "\n";
    if (!r.informational) {
      ++gated;
      passed += r.pass;
    }
  }
  out += std::string(report.pass ? "PASS" : "FAIL") + ": " + report.component + ", " + std::to_string(passed) + "/" +
         std::to_string(gated) + " gated rows pass\n";
  return out;
}

}  // namespace pbench::parity
