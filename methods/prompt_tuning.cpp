// Prompt Tuning — Lester et al., "The Power of Scale for Parameter-Efficient Prompt Tuning",
// arXiv 2104.08691.
//
// L learned "soft prompt" vectors at the input embedding layer of the frozen text encoder,
// prepended to every prompt (after the start token): `<soft_0> … <soft_{L-1}> a dog`. The rest of
// the prompt is frozen vocabulary, so the soft prompt alone carries the subject: training captions
// are the soft prompt + the subject's class prompt ("a dog"), evaluation prompts drop DreamBooth's
// unique token ("a sks dog in the snow" -> "<soft…> a dog in the snow"). Multi-vector Textual
// Inversion without a placeholder word, as methods.md puts it for SD.
// Init (`init`), the paper's three options:
//   class  — the paper's best: row 0 = the class label's embedding (the subject's class noun or
//            `init_word`), the remaining rows sampled from the vocabulary;
//   vocab  — every row a token sampled from the 5,000 most common tokens. CLIP's BPE ranks merges by
//            corpus frequency, so ids 256 … 5,255 (single bytes + end-of-word, then the first merges)
//            stand in for "most common";
//   random — N(0, σ²) with σ the standard deviation of the frozen table (the paper's uniform
//            [-0.5, 0.5] was for T5's embedding scale).
//   Sampling uses `init_seed` (a fixed stream; sweep it as any key).
// Count: L × hidden = 768 · L on SD v1.5 (L = 8: 6,144).
// Delta: {"soft_prompt": [L, hidden]}.
// lr: the paper's 0.3 (Adafactor, T5) does not carry over; methods.md: TI-like 5e-4 … 5e-3.
#include <ATen/CPUGeneratorImpl.h>

#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"
#include "methods/added_tokens.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/token_prompts.hpp"

namespace pbench {
namespace {

struct PromptTuningOptions {
  int64_t length = 8;
  std::string token = "<soft>";
  std::string init = "class";
  std::optional<std::string> init_word;
  int64_t init_seed = 0;
  std::optional<double> lr = 3e-3;

  template <class V>
  void fields(V& v) {
    v("length", length, "L soft tokens", prompt_token_count());
    v("token", token, "soft tokens are <token>_0 ... <token>_{L-1}");
    v("init", init, "class = the class label + common tokens, vocab = common tokens, random = N(0, table std)",
      cfg::one_of({"class", "vocab", "random"}));
    v("init_word", init_word, "class init's label; null = the subject's class noun");
    v("init_seed", init_seed, "seed of the init's sampling (a fixed stream; sweep it as any key)");
    v("lr", lr, "learning rate (TI-like; the paper's 0.3 was Adafactor on T5); null = train.lr", cfg::learning_rate());
  }
};

constexpr int64_t kCommonTokensFirst = 256, kCommonTokens = 5000;

class PromptTuning : public peft::ParameterizedMethod {
 public:
  PromptTuning(const PromptTuningOptions& o, const cfg::Node& section)
      : cfg_(section), length_(o.length), init_seed_(o.init_seed), token_(o.token), init_(o.init),
        init_word_(o.init_word.value_or("")) {
    name_ = "prompt_tuning";
    set_group_lr("token", o.lr);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    std::vector<std::string> names;
    for (int64_t i = 0; i < length_; ++i) names.push_back(token_ + "_" + std::to_string(i));
    rows_ = add_trainable_tokens(target.pipeline, names, "prompt_tuning", "method.token").rows;
    if (!shapes_only(target.pipeline)) initialise(target);
    track("soft_prompt", rows_->rows, "token");
    phrase_.clear();
    for (size_t i = 0; i < names.size(); ++i) phrase_ += (i ? " " : "") + names[i];
  }

  std::string describe() const override {
    return "Prompt tuning: " + std::to_string(length_) + " soft tokens prepended at the text encoder input (" + init_ +
           " init)";
  }

  std::string train_prompt(const SubjectData& s) const override { return with_soft_prompt(class_prompt(s)); }
  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    return with_soft_prompt(replace_subject(prompt, s, s.class_noun));
  }

 private:
  static std::string class_prompt(const SubjectData& s) {
    return !s.class_prompt.empty() ? s.class_prompt : "a " + s.class_noun;
  }
  std::string with_soft_prompt(const std::string& prompt) const { return phrase_ + " " + prompt; }

  void initialise(MethodTarget& target) {
    models::Pipeline& p = target.pipeline;
    const torch::Tensor& table = token_embedding_table(p);
    torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(init_seed_, "prompt_tuning/init"));
    torch::NoGradGuard no_grad;
    torch::Tensor init;
    if (init_ == "random") {
      init = random_table_rows(p, rows_->rows.sizes(), gen);
    } else {
      const int64_t count = std::min(kCommonTokens, table.size(0) - kCommonTokensFirst);
      torch::Tensor ids = torch::randint(kCommonTokensFirst, kCommonTokensFirst + count, {length_}, gen, torch::kInt64);
      init = table.index_select(0, ids.to(table.device()));
      if (init_ == "class") {
        std::string word = init_word_or_class(init_word_, target);
        if (word.empty())
          throw InputError(cfg_.find("init_word")->origin().describe() +
                           ": method.init_word: class init needs a class label (a subject with a class noun, or set "
                           "init_word)");
        init[0] = word_embedding(p, word, "method.init_word");
      }
    }
    rows_->rows.copy_(init);
  }

  cfg::Node cfg_;  // the section, for the file:line of keys
  int64_t length_ = 0, init_seed_ = 0;
  std::string token_, init_, init_word_, phrase_;
  std::shared_ptr<nn::AddedTokenRows> rows_;
};

}  // namespace

void register_prompt_tuning(Registry<MethodEntry>& registry) {
  register_method<PromptTuning, PromptTuningOptions>(
      registry, "prompt_tuning", "Prompt tuning (arXiv 2104.08691): L soft tokens prepended at the text encoder input",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: P+'s (no SD reference code)"});
}

}  // namespace pbench
