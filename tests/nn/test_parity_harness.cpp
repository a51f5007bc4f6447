#define BOOST_TEST_MODULE parity_harness
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/models/parity/parity.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

// The harness on a synthetic folder whose "component" computes y = 2x.

namespace fs = std::filesystem;
namespace parity = pbench::parity;
using nlohmann::json;

namespace {

pbench::TensorMap good_cases() {
  torch::manual_seed(5);
  auto x = torch::randn({2, 3});
  return {{"case0.in.x", x},
          {"case0.out.y", 2 * x},
          {"case0.out.inter.z", x + 1},
          {"case1.in.x", x.sum(0)},
          {"case1.out.y", 2 * x.sum(0)},
          {"steps", torch::arange(4, torch::kInt64)}};
}

json good_tolerance() {
  return {{"default_atol", 1e-5}, {"informational", {"*.out.inter.*"}}, {"integer_outputs", "exact"},
          {"uint8_outputs_atol", 1}};
}

fs::path write_folder(const std::string& name, const pbench::TensorMap& cases, const json& tolerance) {
  fs::path dir = pbench::test::scratch_dir("parity_" + name);
  pbench::save_safetensors(dir / "cases.safetensors", cases);
  std::ofstream(dir / "tolerance.json") << tolerance.dump(1);
  return dir;
}

// Records which weight files it was loaded with.
std::vector<std::string> g_loaded;

parity::Component doubler() {
  parity::Component c;
  c.name = "doubler";
  c.load = [](const fs::path&, const std::string& weights) {
    g_loaded.push_back(weights);
    parity::Runner r;
    r.run_case = [](parity::CaseInputs& in) -> pbench::TensorMap {
      if (in.case_name().empty()) return {{"steps", torch::arange(4, torch::kInt64)}};
      auto x = in.has("pixel_values") ? in.get("pixel_values") : in.get("x");
      return {{"y", 2 * x}, {"inter.z", x + 1}};
    };
    r.preprocess = [](const torch::Tensor& u8) { return u8.to(torch::kFloat32) / 255.0; };
    return r;
  };
  return c;
}

const parity::OutputResult* row(const parity::Report& r, const std::string& name) {
  for (const auto& o : r.outputs)
    if (o.name == name) return &o;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(correct_component_passes_and_json_has_the_contract_fields) {
  auto report = parity::run(doubler(), write_folder("good", good_cases(), good_tolerance()));
  BOOST_TEST(report.pass);
  BOOST_TEST(report.outputs.size() == 4u);  // case0.y, case0.inter.z, case1.y, steps
  BOOST_REQUIRE(row(report, "case0.out.y"));
  BOOST_TEST(*row(report, "case0.out.y")->max_abs < 1e-6);
  BOOST_TEST(*row(report, "case0.out.y")->atol == 1e-5);
  BOOST_TEST(*row(report, "steps")->atol == 0.0);  // integer outputs exact

  json doc = json::parse(parity::report_json(report));
  BOOST_TEST(doc["component"] == "doubler");
  BOOST_TEST(doc["pass"] == true);
  BOOST_TEST(doc.size() == 3u);
  for (const auto& o : doc["outputs"]) {
    BOOST_TEST(o.size() == 4u);
    for (const char* key : {"name", "max_abs", "atol", "pass"}) BOOST_TEST(o.contains(key), key);
  }
  BOOST_TEST(parity::report_table(report).find("PASS: doubler") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(perturbed_expected_output_fails) {
  auto cases = good_cases();
  cases["case1.out.y"] = cases["case1.out.y"] + 1e-3;
  auto report = parity::run(doubler(), write_folder("perturbed", cases, good_tolerance()));
  BOOST_TEST(!report.pass);
  BOOST_TEST(!row(report, "case1.out.y")->pass);
  BOOST_TEST(std::abs(*row(report, "case1.out.y")->max_abs - 1e-3) < 1e-6);
  BOOST_TEST(row(report, "case0.out.y")->pass);
  BOOST_TEST(parity::report_table(report).find("FAIL") != std::string::npos);

  // The same perturbation passes under a per_output tolerance for that name.
  auto tol = good_tolerance();
  tol["per_output"] = {{"case1.out.y", 1e-2}};
  BOOST_TEST(parity::run(doubler(), write_folder("per_output", cases, tol)).pass);
}

BOOST_AUTO_TEST_CASE(integer_outputs_are_exact) {
  auto cases = good_cases();
  cases["steps"][2] = 7;
  auto report = parity::run(doubler(), write_folder("int", cases, good_tolerance()));
  BOOST_TEST(!report.pass);
  BOOST_TEST(*row(report, "steps")->max_abs == 5.0);
}

BOOST_AUTO_TEST_CASE(unconsumed_input_fails) {
  auto cases = good_cases();
  cases["case0.in.attention_mask"] = torch::ones({2, 3});
  auto report = parity::run(doubler(), write_folder("unconsumed", cases, good_tolerance()));
  BOOST_TEST(!report.pass);
  BOOST_REQUIRE(row(report, "case0.in.attention_mask"));
  BOOST_TEST(row(report, "case0.in.attention_mask")->note == "input not consumed");
}

BOOST_AUTO_TEST_CASE(missing_produced_output_fails) {
  auto cases = good_cases();
  cases["case0.out.w"] = torch::zeros({1});
  auto report = parity::run(doubler(), write_folder("missing", cases, good_tolerance()));
  BOOST_TEST(!report.pass);
  BOOST_TEST(row(report, "case0.out.w")->note == "not produced");
}

BOOST_AUTO_TEST_CASE(shape_mismatch_fails) {
  auto cases = good_cases();
  cases["case0.out.y"] = cases["case0.out.y"].unsqueeze(0);
  auto report = parity::run(doubler(), write_folder("shape", cases, good_tolerance()));
  BOOST_TEST(!report.pass);
  BOOST_TEST(!row(report, "case0.out.y")->max_abs.has_value());
}

BOOST_AUTO_TEST_CASE(informational_output_never_gates) {
  auto cases = good_cases();
  cases["case0.out.inter.z"] = cases["case0.out.inter.z"] * 100;
  auto report = parity::run(doubler(), write_folder("informational", cases, good_tolerance()));
  BOOST_TEST(report.pass);
  BOOST_TEST(row(report, "case0.out.inter.z")->informational);
  BOOST_TEST(*row(report, "case0.out.inter.z")->max_abs > 1.0);
  // Without the pattern the same output gates.
  auto tol = good_tolerance();
  tol.erase("informational");
  BOOST_TEST(!parity::run(doubler(), write_folder("not_informational", cases, tol)).pass);
}

BOOST_AUTO_TEST_CASE(preprocess_is_compared_and_consumes_the_raw_input) {
  auto u8 = torch::arange(6, torch::kInt32).reshape({2, 3}).mul(40).to(torch::kUInt8);
  auto pixels = u8.to(torch::kFloat32) / 255.0;
  pbench::TensorMap cases = {{"case0.in.image_u8", u8}, {"case0.in.pixel_values", pixels}, {"case0.out.y", 2 * pixels}};
  auto tol = good_tolerance();
  tol["preprocess"] = {{"input", "image_u8"}, {"compare_to", "pixel_values"}, {"atol", 1e-6}};
  auto report = parity::run(doubler(), write_folder("preprocess", cases, tol));
  BOOST_TEST(report.pass);
  BOOST_REQUIRE(row(report, "case0.preprocess.pixel_values"));
  BOOST_TEST(*row(report, "case0.preprocess.pixel_values")->atol == 1e-6);

  cases["case0.in.pixel_values"] = pixels + 0.01;  // stored preprocessing differs from ours
  cases["case0.out.y"] = 2 * (pixels + 0.01);       // the network still runs on the stored tensor
  report = parity::run(doubler(), write_folder("preprocess_bad", cases, tol));
  BOOST_TEST(!report.pass);
  BOOST_TEST(!row(report, "case0.preprocess.pixel_values")->pass);
  BOOST_TEST(row(report, "case0.out.y")->pass);
}

BOOST_AUTO_TEST_CASE(also_load_runs_every_weight_file) {
  auto tol = good_tolerance();
  tol["also_load"] = {"legacy.safetensors"};
  g_loaded.clear();
  auto report = parity::run(doubler(), write_folder("also_load", good_cases(), tol));
  BOOST_TEST(report.pass);
  BOOST_TEST(g_loaded == (std::vector<std::string>{"model.safetensors", "legacy.safetensors"}),
             boost::test_tools::per_element());
  BOOST_TEST(row(report, "legacy.safetensors:case0.out.y"));
}

BOOST_AUTO_TEST_CASE(bad_folders_are_input_errors) {
  BOOST_CHECK_THROW(parity::run(doubler(), "/nonexistent/folder"), pbench::InputError);
  fs::path dir = pbench::test::scratch_dir("parity_no_tolerance");
  pbench::save_safetensors(dir / "cases.safetensors", good_cases());
  BOOST_CHECK_THROW(parity::run(doubler(), dir), pbench::InputError);
  std::ofstream(dir / "tolerance.json") << "{\"default_atol\": \"small\"}";
  BOOST_CHECK_THROW(parity::run(doubler(), dir), pbench::InputError);
}

BOOST_AUTO_TEST_CASE(command_rejects_unknown_component_with_exit_2) {
  std::string a0 = "pbench parity", a1 = "no_such_component", a2 = "/tmp";
  char* argv[] = {a0.data(), a1.data(), a2.data()};
  BOOST_TEST(parity::parity_command(3, argv) == 2);
}
