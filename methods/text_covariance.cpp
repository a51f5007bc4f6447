#include "methods/text_covariance.hpp"

#include <fstream>
#include <sstream>

#include <unistd.h>

#include "datasets/mini_world_scene.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/sha256.hpp"

namespace pbench::peft {
namespace fs = std::filesystem;

std::vector<std::string> mini_world_captions(int64_t count) {
  constexpr uint64_t kCaptionSeed = 230501644;  // the arXiv id: a fixed, documented seed
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back(mini::caption(mini::sample_training_scene(mini::item_seed(kCaptionSeed, uint64_t(i)))));
  return out;
}

std::vector<std::string> caption_file(const fs::path& file, const std::string& key) {
  std::ifstream in(file);
  if (!in) throw InputError(key + ": cannot read caption file '" + file.string() + "' (one caption per line)");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(line);
  if (out.empty()) throw InputError(key + ": caption file '" + file.string() + "' has no captions");
  return out;
}

namespace {

// The digest of the caption set and of the encoder's weights (each tensor's shape, sum and sum of
// squares in float64: a different model or fine-tune changes it).
std::string covariance_key(const models::Pipeline& pipeline, const std::vector<std::string>& captions) {
  std::ostringstream text;
  text << "text_covariance v1\n";
  for (const std::string& c : captions) text << c << '\n';
  torch::NoGradGuard no_grad;
  for (const auto& item : pipeline.text_encoder->named_parameters()) {
    const torch::Tensor& t = item.value();  // summed in float64 without a float64 copy of each tensor
    text << item.key() << ' ' << t.sizes() << ' ' << t.sum(torch::kFloat64).item<double>() << ' '
         << (t * t).sum(torch::kFloat64).item<double>() << '\n';
  }
  return sha256_hex(text.str());
}

torch::Tensor compute_inverse(const models::Pipeline& pipeline, const std::vector<std::string>& captions,
                              std::ostream* log) {
  torch::NoGradGuard no_grad;
  constexpr size_t kChunk = 64;
  torch::Tensor sum;
  int64_t tokens = 0;
  for (size_t at = 0; at < captions.size(); at += kChunk) {
    std::vector<std::string> chunk(captions.begin() + long(at), captions.begin() + long(std::min(at + kChunk, captions.size())));
    torch::Tensor e = models::encode_prompts(pipeline, chunk).to(torch::kFloat64).cpu();
    e = e.reshape({-1, e.size(-1)});
    sum = sum.defined() ? sum + e.t().matmul(e) : e.t().matmul(e);
    tokens += e.size(0);
    if (log && (at / kChunk) % 16 == 15)
      *log << "[perfusion] text covariance: " << at + chunk.size() << "/" << captions.size() << " captions\n";
  }
  torch::Tensor c = sum / double(tokens);
  const int64_t d = c.size(0);
  c = c + torch::eye(d, c.options()) * (1e-4 * c.trace().item<double>() / double(d));
  return torch::inverse(c).to(torch::kFloat32);
}

}  // namespace

torch::Tensor inverse_text_covariance(const models::Pipeline& pipeline, const std::vector<std::string>& captions,
                                      const fs::path& cache_dir, std::ostream* log) {
  if (captions.empty()) throw InputError("text covariance: no captions");
  const torch::Device device = pipeline.text_encoder->parameters().front().device();
  if (cache_dir.empty()) return compute_inverse(pipeline, captions, log).to(device);
  const fs::path file = cache_dir / "text_covariance" / (covariance_key(pipeline, captions).substr(0, 24) + ".safetensors");
  if (fs::exists(file)) return load_safetensors(file).at("inverse_covariance").to(device);
  torch::Tensor inverse = compute_inverse(pipeline, captions, log);
  fs::create_directories(file.parent_path());
  const fs::path partial = file.string() + ".partial." + std::to_string(::getpid());  // concurrent runs
  save_safetensors(partial, {{"inverse_covariance", inverse}});
  fs::rename(partial, file);  // whole or absent, never half-written
  if (log) *log << "[perfusion] cached the inverse text covariance (" << captions.size() << " captions) in " << file << "\n";
  return inverse.to(device);
}

}  // namespace pbench::peft
