#define BOOST_TEST_MODULE safetensors_refvectors
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include "framework/tensor/safetensors_torch.hpp"
#include "tests/support/test_paths.hpp"

// Reads every *.safetensors of the shared reference vectors with our loader
// and checks it against what the folder READMEs document: the tensor count
// of each model file, and name/shape/dtype of every row of each README's
// tensor table.

namespace fs = std::filesystem;

namespace {

struct SharedFixture {
  SharedFixture() { pbench::test::require_shared_or_skip("refvectors"); }
};
BOOST_TEST_GLOBAL_FIXTURE(SharedFixture);

fs::path refvectors() { return pbench::test::shared_dir() / "refvectors"; }

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> out;
  std::regex num("\\d+");
  for (std::sregex_iterator it(text.begin(), text.end(), num), end; it != end; ++it) out.push_back(std::stoll(it->str()));
  return out;
}

torch::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32") return torch::kFloat32;
  if (s == "int64") return torch::kInt64;
  if (s == "uint8") return torch::kUInt8;
  BOOST_FAIL("README dtype not handled by this test: " + s);
  return torch::kFloat32;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_file_loads) {
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(refvectors())) {
    if (entry.path().extension() != ".safetensors") continue;
    auto tensors = pbench::load_safetensors(entry.path());
    BOOST_TEST(!tensors.empty(), entry.path());
    ++files;
  }
  BOOST_TEST(files >= 12);  // 6 cases files + 6 model files in the shared set
}

BOOST_AUTO_TEST_CASE(model_tensor_counts_match_the_readmes) {
  // "`model.safetensors` — N tensors" in each README.
  const std::map<std::string, size_t> documented = {
      {"clip_text/model.safetensors", 38}, {"clip_vision/model.safetensors", 41},
      {"dino_vit/model.safetensors", 38},  {"unet/model.safetensors", 208},
      {"vae/model.safetensors", 124},      {"vae/model_legacy_attn_names.safetensors", 124}};
  for (const auto& [file, count] : documented) BOOST_TEST(pbench::load_safetensors(refvectors() / file).size() == count, file);

  auto text = pbench::load_safetensors(refvectors() / "clip_text/model.safetensors");
  BOOST_TEST(text.at("text_model.embeddings.position_ids").scalar_type() == torch::kInt64);
  BOOST_TEST(text.at("text_model.embeddings.position_ids").sizes() == (std::vector<int64_t>{1, 77}));
  BOOST_TEST(text.at("text_projection.weight").sizes() == (std::vector<int64_t>{32, 32}));
  BOOST_TEST(torch::equal(text.at("text_model.embeddings.position_ids")[0], torch::arange(77, torch::kInt64)));
  auto vision = pbench::load_safetensors(refvectors() / "clip_vision/model.safetensors");
  BOOST_TEST(vision.at("visual_projection.weight").sizes() == (std::vector<int64_t>{32, 64}));
  BOOST_TEST(vision.count("vision_model.embeddings.patch_embedding.bias") == 0u);
  auto dino = pbench::load_safetensors(refvectors() / "dino_vit/model.safetensors");
  BOOST_TEST(dino.at("embeddings.cls_token").sizes() == (std::vector<int64_t>{1, 1, 48}));
}

BOOST_AUTO_TEST_CASE(cases_match_every_readme_table_row) {
  // Rows look like: | `case0.in.sample` | [2, 4, 8, 8] | float32 | meaning |
  const std::regex row("^\\| `([^`]+)` \\| (\\[[0-9, ]*\\]) \\| (\\w+) \\|");
  for (const char* folder : {"clip_text", "clip_vision", "dino_vit", "unet", "vae", "schedulers"}) {
    auto cases = pbench::load_safetensors(refvectors() / folder / "cases.safetensors");
    std::istringstream lines(read_text(refvectors() / folder / "README.md"));
    std::string line;
    size_t rows = 0;
    for (std::smatch m; std::getline(lines, line);) {
      if (!std::regex_search(line, m, row)) continue;
      ++rows;
      const std::string name = m[1];
      auto it = cases.find(name);
      BOOST_REQUIRE_MESSAGE(it != cases.end(), folder << ": " << name << " listed in README but absent");
      BOOST_TEST(it->second.sizes().vec() == parse_shape(m[2]), folder << ": " << name);
      BOOST_TEST(it->second.scalar_type() == parse_dtype(m[3]), folder << ": " << name);
    }
    BOOST_TEST(rows > 5u, folder);
    BOOST_TEST(rows == cases.size(), folder << ": README lists " << rows << " of " << cases.size() << " tensors");
  }
}
