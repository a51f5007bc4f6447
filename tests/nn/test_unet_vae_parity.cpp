#define BOOST_TEST_MODULE unet_vae_parity
#include <boost/test/unit_test.hpp>

#include <iostream>

#include "framework/models/parity/parity.hpp"
#include "framework/models/parity/unet_vae_cases.hpp"
#include "tests/support/test_paths.hpp"

// Loads refvectors/unet and refvectors/vae as a user's weights are loaded,
// runs every case and compares every gated output within tolerance.json
// (intermediates `*.out.inter.*` are printed, not gated). The VAE runs with
// both weight files (current and legacy attention names).

using namespace pbench::models;
namespace fs = std::filesystem;

namespace {

struct SharedFixture {
  SharedFixture() {
    pbench::test::require_shared_or_skip("refvectors/unet");
    pbench::test::require_shared_or_skip("refvectors/vae");
    torch::set_num_threads(1);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(SharedFixture);

fs::path folder(const std::string& name) { return pbench::test::shared_dir() / "refvectors" / name; }

// fnmatch-style '*' wildcard, as tolerance.json's patterns use.
bool glob(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == text[t]) {
      ++p, ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = t;
    } else if (star != std::string::npos) {
      p = star + 1, t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// case name -> input name -> tensor, from `caseN.in.<name>`.
std::map<std::string, pbench::TensorMap> inputs_by_case(const pbench::TensorMap& cases) {
  std::map<std::string, pbench::TensorMap> out;
  for (const auto& [name, value] : cases) {
    auto pos = name.find(".in.");
    if (pos != std::string::npos) out[name.substr(0, pos)][name.substr(pos + 4)] = value;
  }
  return out;
}

// Compares every `<case>.out.*` tensor of `cases` to `produced[case][name]`.
// Returns the number of gated outputs checked.
int compare(const std::string& label, const pbench::TensorMap& cases,
            const std::map<std::string, pbench::TensorMap>& produced, const nlohmann::json& tolerance) {
  const double default_atol = tolerance.at("default_atol").get<double>();
  const double u8_atol = tolerance.value("uint8_outputs_atol", 0.0);
  int gated = 0;
  for (const auto& [name, expected] : cases) {
    auto pos = name.find(".out.");
    if (pos == std::string::npos) continue;
    const std::string case_name = name.substr(0, pos), out_name = name.substr(pos + 5);
    bool informational = false;
    for (const auto& pattern : tolerance.at("informational")) informational |= glob(pattern.get<std::string>(), name);
    const auto& mine = produced.at(case_name);
    auto it = mine.find(out_name);
    if (it == mine.end()) {
      BOOST_TEST(informational, label << ": no output for gated " << name);
      continue;
    }
    BOOST_TEST_REQUIRE(it->second.sizes() == expected.sizes(), label << ": shape of " << name);
    const double diff = (it->second.to(torch::kFloat64) - expected.to(torch::kFloat64)).abs().max().item<double>();
    double atol = default_atol;
    if (tolerance.contains("per_output") && tolerance["per_output"].contains(out_name))
      atol = tolerance["per_output"][out_name].get<double>();
    if (expected.scalar_type() == torch::kUInt8) atol = u8_atol;
    else if (!expected.is_floating_point()) atol = 0;
    std::cout << label << " " << name << " max_abs " << diff << " atol " << atol << (informational ? " (info)" : "") << "\n";
    if (!informational) {
      BOOST_TEST(diff <= atol, label << ": " << name << " max abs " << diff << " > " << atol);
      ++gated;
    }
  }
  return gated;
}

}  // namespace

BOOST_AUTO_TEST_CASE(unet_reference_cases) {
  const fs::path dir = folder("unet");
  UNet2DCondition unet(UNetConfig::from_file((dir / "config.json").string()));
  pbench::load_into_module(*unet, pbench::load_safetensors(dir / "model.safetensors"), (dir / "model.safetensors").string());
  unet->eval();
  auto cases = pbench::load_safetensors(dir / "cases.safetensors");
  std::map<std::string, pbench::TensorMap> produced;
  for (const auto& [case_name, inputs] : inputs_by_case(cases)) produced[case_name] = run_unet_case(*unet, inputs, case_name);
  BOOST_TEST(produced.size() == 5u);
  BOOST_TEST(compare("unet", cases, produced, read_json_file((dir / "tolerance.json").string())) == 5);
}

BOOST_AUTO_TEST_CASE(vae_reference_cases_both_weight_files) {
  const fs::path dir = folder("vae");
  const auto tolerance = read_json_file((dir / "tolerance.json").string());
  std::vector<std::string> files{"model.safetensors"};
  for (const auto& f : tolerance.at("also_load")) files.push_back(f.get<std::string>());
  BOOST_TEST(files.size() == 2u);
  auto cases = pbench::load_safetensors(dir / "cases.safetensors");
  const auto& pre = tolerance.at("preprocess");
  for (const auto& file : files) {
    AutoencoderKL vae(VaeConfig::from_file((dir / "config.json").string()));
    load_vae_weights(*vae, pbench::load_safetensors(dir / file), (dir / file).string());
    vae->eval();
    std::map<std::string, pbench::TensorMap> produced;
    int preprocessed = 0;
    for (const auto& [case_name, inputs] : inputs_by_case(cases)) {
      produced[case_name] = run_vae_case(*vae, inputs, case_name);
      // The network ran on the stored `sample`; our preprocessing of image_u8 must match it.
      if (produced[case_name].count("preprocessed")) {
        const auto& mine = produced[case_name]["preprocessed"];
        const auto& ref = inputs.at(pre.at("compare_to").get<std::string>());
        BOOST_TEST((mine - ref).abs().max().item<double>() <= pre.at("atol").get<double>());
        ++preprocessed;
      }
    }
    BOOST_TEST(preprocessed == 1);
    BOOST_TEST(compare("vae[" + file + "]", cases, produced, tolerance) == 15);
  }
}

// The same folders through the registered `pbench parity` components: every
// input consumed, every output produced, both VAE weight files.
BOOST_AUTO_TEST_CASE(registered_components_pass) {
  for (const auto& [name, gated_rows] : std::vector<std::pair<std::string, int>>{{"unet", 5}, {"vae", 2 * (15 + 1)}}) {
    const auto* component = pbench::parity::find_component(name);
    BOOST_REQUIRE(component != nullptr);
    auto report = pbench::parity::run(*component, folder(name));
    int gated = 0;
    for (const auto& row : report.outputs) {
      if (row.informational) continue;
      ++gated;
      BOOST_TEST(row.pass, name << ": " << row.name << " " << row.note);
    }
    BOOST_TEST(report.pass, name);
    BOOST_TEST(gated == gated_rows, name);  // VAE: 15 outputs + the preprocess row, per weight file
  }
}
