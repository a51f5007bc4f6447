#define BOOST_TEST_MODULE safetensors_torch
#include <boost/test/unit_test.hpp>

#include <torch/torch.h>

#include "framework/io/safetensors.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace {

// A small module with a nested submodule and a buffer.
struct Tiny : torch::nn::Module {
  torch::nn::Linear proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor ids;
  Tiny() {
    proj = register_module("proj", torch::nn::Linear(4, 3));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({3})));
    ids = register_buffer("position_ids", torch::arange(5, torch::kInt64).unsqueeze(0));
  }
};

pbench::TensorMap tiny_weights() {
  torch::manual_seed(3);
  return {{"proj.weight", torch::randn({3, 4})},
          {"proj.bias", torch::randn({3})},
          {"norm.weight", torch::randn({3})},
          {"norm.bias", torch::randn({3})},
          {"position_ids", torch::arange(5, torch::kInt64).unsqueeze(0) + 7}};
}

std::string load_error(Tiny& m, const pbench::TensorMap& w, const pbench::LoadOptions& o = {}) {
  try {
    pbench::load_into_module(m, w, "weights.safetensors", o);
  } catch (const pbench::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_keeps_values_and_dtypes) {
  torch::manual_seed(0);
  pbench::TensorMap in = {
      {"f32", torch::randn({2, 3})},
      {"f16", torch::randn({4}).to(torch::kFloat16)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"f64", torch::randn({3}, torch::kFloat64)},
      {"i64", torch::arange(-3, 3, torch::kInt64)},
      {"i32", torch::arange(6, torch::kInt32).reshape({2, 3})},
      {"i16", torch::arange(4, torch::kInt16)},
      {"i8", torch::arange(-2, 2, torch::kInt8)},
      {"u8", torch::arange(250, 256, torch::kInt32).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(2.5f)},
      {"strided", torch::arange(12, torch::kFloat32).reshape({3, 4}).t()},  // non-contiguous
  };
  auto path = pbench::test::scratch_dir("safetensors_torch") / "rt.safetensors";
  pbench::save_safetensors(path, in, {{"format", "pt"}});
  auto out = pbench::load_safetensors(path);
  BOOST_REQUIRE_EQUAL(out.size(), in.size());
  for (const auto& [name, t] : in) {
    BOOST_REQUIRE_MESSAGE(out.count(name), name);
    const auto& u = out.at(name);
    BOOST_TEST(u.scalar_type() == t.scalar_type(), name);
    BOOST_TEST(u.sizes() == t.sizes(), name);
    BOOST_TEST(torch::equal(u, t), name);
  }
  BOOST_TEST(pbench::safetensors::File::read(path).metadata().at("format") == "pt");
}

BOOST_AUTO_TEST_CASE(loads_into_module_by_name) {
  Tiny m;
  auto w = tiny_weights();
  pbench::load_into_module(m, w, "weights.safetensors");
  BOOST_TEST(torch::equal(m.proj->weight, w["proj.weight"]));
  BOOST_TEST(torch::equal(m.norm->bias, w["norm.bias"]));
  BOOST_TEST(torch::equal(m.ids, w["position_ids"]));
  BOOST_TEST(m.proj->weight.requires_grad());  // loading does not change trainability
}

BOOST_AUTO_TEST_CASE(one_error_names_missing_unexpected_and_mismatched) {
  Tiny m;
  auto before = m.proj->weight.clone();
  auto w = tiny_weights();
  w.erase("norm.bias");                            // missing
  w["proj.extra"] = torch::zeros({2});             // unexpected
  w["norm.weight"] = torch::zeros({4});            // shape mismatch
  std::string msg = load_error(m, w);
  BOOST_TEST_MESSAGE(msg);
  for (const char* part : {"weights.safetensors", "1 missing keys: norm.bias", "1 unexpected keys: proj.extra",
                           "norm.weight", "[4]", "[3]"})
    BOOST_CHECK_MESSAGE(msg.find(part) != std::string::npos, "'" << part << "' not in: " << msg);
  BOOST_TEST(torch::equal(m.proj->weight, before));  // nothing copied on failure
}

BOOST_AUTO_TEST_CASE(dtype_categories_are_checked_but_float_precision_converts) {
  Tiny m;
  auto w = tiny_weights();
  w["position_ids"] = w["position_ids"].to(torch::kFloat32);
  BOOST_TEST(load_error(m, w).find("position_ids (file dtype Float vs module Long)") != std::string::npos);
  w = tiny_weights();
  w["proj.weight"] = w["proj.weight"].to(torch::kFloat16);
  BOOST_TEST(load_error(m, w).empty());
  BOOST_TEST(torch::allclose(m.proj->weight, w["proj.weight"].to(torch::kFloat32)));
}

BOOST_AUTO_TEST_CASE(options_skip_and_allow_by_regex) {
  Tiny m;
  auto w = tiny_weights();
  w.erase("position_ids");
  w["text_model.embeddings.position_ids"] = torch::zeros({1, 5}, torch::kInt64);
  BOOST_TEST(!load_error(m, w).empty());
  pbench::LoadOptions o;
  o.ignore_unexpected = {"position_ids$"};
  o.allow_missing = {"^position_ids$"};
  BOOST_TEST(load_error(m, w, o).empty());
  BOOST_TEST(torch::equal(m.ids, torch::arange(5, torch::kInt64).unsqueeze(0)));  // kept as initialized
}

BOOST_AUTO_TEST_CASE(many_missing_keys_are_counted) {
  Tiny m;
  std::string msg = load_error(m, {});
  BOOST_TEST(msg.find("5 missing keys") != std::string::npos, msg);
}
