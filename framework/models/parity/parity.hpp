#pragma once
// Parity harness: runs a component implementation on a reference-vector
// folder (../shared/INTERFACES.md "Parity folders") and compares every
// expected output.
//
// A folder holds `cases.safetensors` and `tolerance.json` (plus the
// component's config/weights). Tensor names are `<case>.in.<name>` (inputs),
// `<case>.out.<name>` (expected outputs) and top-level names without either
// part (expected outputs of the pseudo-case ""). Gating rules:
//   - every expected output is gated except the tolerance's `informational`
//     glob patterns (reported, never gating);
//   - float outputs within `per_output[name]` else `default_atol` (max |diff|),
//     integer outputs exact, uint8 outputs within `uint8_outputs_atol`;
//   - every input present in the file must be read by the component
//     (unconsumed inputs fail), and a missing produced output fails;
//   - with a `preprocess` block the network runs on the stored `compare_to`
//     tensor and the component's own preprocessing of `input` is compared
//     to it within the block's atol;
//   - `also_load` lists more weight files: the whole folder is run again
//     with each of them and must pass too.
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "framework/tensor/safetensors_torch.hpp"

namespace pbench::parity {

// tolerance.json of a parity folder.
struct Tolerance {
  double default_atol = 0.0;
  std::map<std::string, double> per_output;  // full tensor name (or glob) -> atol
  std::vector<std::string> informational;    // glob patterns ('*' matches any run of characters)
  double integer_atol = 0.0;                 // "integer_outputs": "exact" -> 0
  double uint8_atol = 0.0;                   // "uint8_outputs_atol"
  struct Preprocess {
    std::string input;       // e.g. image_u8
    std::string compare_to;  // e.g. pixel_values
    double atol = 0.0;
  };
  std::optional<Preprocess> preprocess;
  std::vector<std::string> also_load;  // more weight files to run the folder with

  // Throws InputError naming the file and key for a malformed file.
  static Tolerance read(const std::filesystem::path& file);
  bool is_informational(const std::string& full_name) const;
  // The gate for an expected output of this name and dtype.
  double atol_for(const std::string& full_name, torch::ScalarType expected_dtype) const;
};

// The inputs of one case as the component sees them. Records what the
// component read so that the harness can fail on unconsumed inputs.
class CaseInputs {
 public:
  CaseInputs(std::string case_name, TensorMap inputs, std::vector<std::string> expected_outputs);

  // "" for the top-level pseudo-case.
  const std::string& case_name() const { return case_name_; }
  bool has(const std::string& key) const { return inputs_.count(key) > 0; }
  // Marks `key` consumed. Throws InputError naming the case and key if absent.
  const torch::Tensor& get(const std::string& key);
  // Marks `key` consumed when present.
  std::optional<torch::Tensor> get_optional(const std::string& key);
  // Short names (after `<case>.out.`; full names for the top-level case).
  const std::vector<std::string>& expected_outputs() const { return expected_; }
  // Inputs never read, sorted.
  std::vector<std::string> unconsumed() const;

 private:
  std::string case_name_;
  TensorMap inputs_;
  std::vector<std::string> expected_;
  std::set<std::string> consumed_;
};

// A component bound to one folder's config and weights.
struct Runner {
  // Produces outputs keyed like CaseInputs::expected_outputs(); extra
  // outputs are ignored. InputError means the folder does not fit the
  // component (exit 2); any other exception fails the case.
  std::function<TensorMap(CaseInputs&)> run_case;
  // The component's own preprocessing (uint8 image -> network input); empty
  // when it has none.
  std::function<torch::Tensor(const torch::Tensor&)> preprocess;
};

struct OutputResult {
  std::string name;                // full tensor name (prefixed by the weights file for also_load passes)
  std::optional<double> max_abs;   // empty when nothing could be compared
  std::optional<double> atol;      // empty for rows that are not comparisons
  bool pass = false;
  bool informational = false;      // reported, not gating
  std::string note;                // why a row failed without a comparison
};

struct Report {
  std::string component;
  bool pass = false;
  std::vector<OutputResult> outputs;
};

struct Component {
  std::string name;
  std::string help;
  // Loads config and weights from `folder` as a user's weights are loaded;
  // `weights_file` is "model.safetensors" or an also_load entry (ignored by
  // components without weights).
  std::function<Runner(const std::filesystem::path& folder, const std::string& weights_file)> load;
  // For folders without cases.safetensors (clip_tokenizer): replaces the
  // whole generic run.
  std::function<Report(const std::filesystem::path& folder)> run_folder;
};

// Compares one output under the gating rules (shape must match; NaN fails).
OutputResult compare_output(const std::string& name, const torch::Tensor& expected, const torch::Tensor& produced,
                            double atol, bool informational);

// Runs every case of `folder`. Throws InputError for a bad folder.
Report run(const Component& component, const std::filesystem::path& folder);

// The registered components (framework/models/parity_components.cpp).
const std::vector<Component>& parity_components();
const Component* find_component(const std::string& name);  // nullptr when unknown

std::string report_json(const Report& report);
std::string report_table(const Report& report);

// `pbench parity <component> <folder> [--json]`.
int parity_command(int argc, char** argv);

}  // namespace pbench::parity
