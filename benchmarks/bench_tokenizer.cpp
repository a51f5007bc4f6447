// CLIP tokenizer throughput (texts/s, items_per_second): the 60 prompts of
// ../shared/refvectors/clip_tokenizer/cases.json encoded over and over with
// the repository's tokenizer files. The BPE word cache is warm after the
// first pass, as in a training run that re-encodes the same prompts;
// BM_TokenizerEncodeNewWords shows the uncached BPE cost.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/text/clip_tokenizer.hpp"

namespace {

std::filesystem::path source_dir() { return PBENCH_SOURCE_DIR; }
std::filesystem::path asset_folder() { return source_dir() / "framework" / "assets" / "clip_tokenizer"; }

std::filesystem::path shared_cases() {
  const std::filesystem::path shared =
      std::getenv("PBENCH_SHARED") ? std::filesystem::path(std::getenv("PBENCH_SHARED")) : source_dir().parent_path() / "shared";
  return shared / "refvectors" / "clip_tokenizer" / "cases.json";
}

std::vector<std::string> shared_texts() {
  std::vector<std::string> texts;
  std::ifstream in(shared_cases());
  if (!in) return texts;
  const nlohmann::json doc = nlohmann::json::parse(in);  // must outlive the loop below
  for (const auto& kase : doc.at("cases")) texts.push_back(kase.at("text").get<std::string>());
  return texts;
}

void BM_TokenizerEncode(benchmark::State& state) {
  const std::vector<std::string> texts = shared_texts();
  if (texts.empty()) {
    state.SkipWithError(("missing " + shared_cases().string() + " (set PBENCH_SHARED)").c_str());
    return;
  }
  const auto tokenizer = pbench::ClipTokenizer::from_folder(asset_folder());
  for (auto _ : state) {
    for (const auto& text : texts) benchmark::DoNotOptimize(tokenizer.encode(text));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(texts.size()));
}
BENCHMARK(BM_TokenizerEncode)->Unit(benchmark::kMicrosecond);

// Ten fresh 8-letter words per text (a deterministic LCG), so every word goes
// through BPE instead of the cache.
void BM_TokenizerEncodeNewWords(benchmark::State& state) {
  const auto tokenizer = pbench::ClipTokenizer::from_folder(asset_folder());
  uint64_t lcg = 12345;
  std::string text;
  for (auto _ : state) {
    state.PauseTiming();
    text.clear();
    for (int w = 0; w < 10; ++w) {
      for (int c = 0; c < 8; ++c) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        text += static_cast<char>('a' + (lcg >> 33) % 26);
      }
      text += ' ';
    }
    state.ResumeTiming();
    benchmark::DoNotOptimize(tokenizer.encode(text));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenizerEncodeNewWords)->Unit(benchmark::kMicrosecond);

void BM_TokenizerLoad(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(pbench::ClipTokenizer::from_folder(asset_folder()));
}
BENCHMARK(BM_TokenizerLoad)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
