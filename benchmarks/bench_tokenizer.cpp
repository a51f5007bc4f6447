// CLIP tokenizer throughput with the repository's tokenizer files.
//  tokenizer.encode            the 60 prompts of ../shared/refvectors/clip_tokenizer/cases.json,
//                              encoded over and over (items/s = texts/s). The BPE word cache is
//                              warm after the first pass, as in a training run that re-encodes
//                              the same prompts.
//  tokenizer.encode_new_words  ten fresh 8-letter words per text (a deterministic LCG), so every
//                              word goes through BPE instead of the cache.
//  tokenizer.load              reading vocab.json + merges.txt.
#include <fstream>
#include <nlohmann/json.hpp>

#include "benchmarks/support/bench_support.hpp"
#include "framework/text/clip_tokenizer.hpp"

namespace {

using pbench::bench::add;

std::filesystem::path asset_folder() {
  return pbench::bench::source_dir() / "framework" / "assets" / "clip_tokenizer";
}
std::filesystem::path shared_cases() {
  return pbench::bench::shared_dir() / "refvectors" / "clip_tokenizer" / "cases.json";
}

std::vector<std::string> shared_texts() {
  std::vector<std::string> texts;
  std::ifstream in(shared_cases());
  if (!in) return texts;
  const nlohmann::json doc = nlohmann::json::parse(in);  // must outlive the loop below
  for (const auto& kase : doc.at("cases")) texts.push_back(kase.at("text").get<std::string>());
  return texts;
}

void encode_shared_prompts(benchmark::State& state, int work) {
  const std::vector<std::string> texts = shared_texts();
  if (texts.empty()) {
    state.SkipWithError(("missing " + shared_cases().string() + " (set PBENCH_SHARED)").c_str());
    return;
  }
  const auto tokenizer = pbench::ClipTokenizer::from_folder(asset_folder());
  for (auto _ : state) {
    for (int w = 0; w < work; ++w)
      for (const auto& text : texts) benchmark::DoNotOptimize(tokenizer.encode(text));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(texts.size()));
}

// The text is built inside the timed loop: building 90 characters costs well
// under 1% of BPE-encoding them, and PauseTiming would cost more than that.
void encode_new_words(benchmark::State& state, int work) {
  const auto tokenizer = pbench::ClipTokenizer::from_folder(asset_folder());
  uint64_t lcg = 12345;
  std::string text;
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) {
      text.clear();
      for (int word = 0; word < 10; ++word) {
        for (int c = 0; c < 8; ++c) {
          lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
          text += static_cast<char>('a' + (lcg >> 33) % 26);
        }
        text += ' ';
      }
      benchmark::DoNotOptimize(tokenizer.encode(text));
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void load(benchmark::State& state, int work) {
  for (auto _ : state) {
    for (int w = 0; w < work; ++w) benchmark::DoNotOptimize(pbench::ClipTokenizer::from_folder(asset_folder()));
  }
}

void register_benchmarks() {
  add("tokenizer.encode", encode_shared_prompts);
  add("tokenizer.encode_new_words", encode_new_words);
  add("tokenizer.load", load)->Unit(benchmark::kMillisecond);
}

}  // namespace

PBENCH_BENCHMARK_MAIN()
