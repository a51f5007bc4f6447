// CLIP tokenizer throughput with the repository's tokenizer files.
//  tokenizer.encode            DreamBooth's 25 object prompts for three subjects (75 texts),
//                              encoded over and over (items/s = texts/s). The BPE word cache is
//                              warm after the first pass, as in a training run that re-encodes
//                              the same prompts.
//  tokenizer.encode_new_words  ten fresh 8-letter words per text (a deterministic LCG), so every
//                              word goes through BPE instead of the cache.
//  tokenizer.load              reading vocab.json + merges.txt.

#include "benchmarks/support/bench_support.hpp"
#include "datasets/builtin_subjects.hpp"
#include "framework/text/clip_tokenizer.hpp"

namespace {

using pbench::bench::add;

std::filesystem::path asset_folder() {
  return pbench::bench::source_dir() / "framework" / "assets" / "clip_tokenizer";
}
// Evaluation prompts as a sweep encodes them (no ../shared needed).
std::vector<std::string> prompt_texts() {
  std::vector<std::string> texts;
  for (const char* noun : {"dog", "backpack", "stuffed animal"})
    for (const auto& templ : pbench::dreambooth_object_prompt_templates())
      texts.push_back(pbench::fill_prompt_template(templ, "sks", noun));
  return texts;
}

void encode_shared_prompts(benchmark::State& state, int work) {
  const std::vector<std::string> texts = prompt_texts();
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
