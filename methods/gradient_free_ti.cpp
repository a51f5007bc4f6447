// Gradient-free Textual Inversion — Fei, Fan, Huang, "Gradient-Free Textual Inversion",
// arXiv 2304.05818. Reference code: feizc/Gradient-Free-Textual-Inversion (train_inversion.py,
// initialize_inversion.py, a vendored `cma`).
//
// What learns: one new token embedding, as in Textual Inversion, but found by an evolution
// strategy with forward passes only. CMA-ES (framework/train/cma_es.hpp, our own) searches z in
// the top `intrinsic_dim` principal directions of the frozen token-embedding table
// (framework/tensor/principal_subspace.hpp, sklearn's PCA fitted on the whole table), and
//   embedding(z) = PCA.inverse_transform(z) + p0 = table mean + z · components + p0,
// the reference's mapping: z = 0 is p0 plus the table's mean (its quirk, kept as is).
// Each training step is one CMA-ES generation (CandidateSearch, framework/train/
// candidate_search.hpp): `population` candidates, each scored by the denoising loss on a fresh
// batch whose timesteps were drawn once for the whole search, as the reference's; autograd is
// off and nothing requires a gradient. Between generations the installed embedding is the
// search's mean (the `cma` package's xfavorite): a single best evaluation is a noisy draw.
//
// Defaults, from the reference: intrinsic_dim 256, z from 0, sigma 1, population 20, a budget
// of 5000 evaluations = 250 generations (MethodBudget), batch 32 (its fixed-timestep batch).
// Ours, marked:
//   - p0: the reference starts from CLIP image features through a softmax over class-name
//     prompts ("no-parameter cross-attention"); here p0 is the init word's embedding (default
//     the subject's class noun), Textual Inversion's start. [chosen]
//   - dimension expansion: the paper grows the subspace during the search, but the reference
//     script searches a fixed 256 and our notes give no schedule, so `initial_dim: null` (no
//     expansion) is the default; `initial_dim: k` with `expand_every: g` doubles the search
//     every g generations up to intrinsic_dim (CmaEs::expand keeps what was learned). [chosen]
//   - a text encoder narrower than intrinsic_dim (builtin:mini) searches min(intrinsic_dim,
//     width, vocabulary - 1) directions, said in describe(). [chosen]
// Count: 768 on SD v1.5 (the embedding); the search state (mean, 256² covariance) is not saved.
// The run's cost axis is UNet evaluations (population x batch per step), in the run file.
#include <algorithm>
#include <optional>
#include <sstream>

#include "framework/tensor/principal_subspace.hpp"
#include "framework/train/candidate_search.hpp"
#include "framework/train/cma_es.hpp"
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/added_tokens.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/token_prompts.hpp"

namespace pbench {
namespace {

struct GradientFreeTiOptions {
  std::string placeholder = "<sks>";
  std::optional<std::string> init_word;
  int64_t intrinsic_dim = 256;
  std::optional<int64_t> initial_dim;
  int64_t expand_every = 50;
  int64_t population = 20;
  double sigma = 1.0;

  template <class V>
  void fields(V& v) {
    v("placeholder", placeholder, "the new token S*");
    v("init_word", init_word, "p0, the word whose embedding the search is centred on; null = the subject's class noun");
    v("intrinsic_dim", intrinsic_dim, "principal directions of the token table searched (the reference's 256)",
      cfg::between(1, 4096));
    v("initial_dim", initial_dim,
      "directions searched first, doubled every expand_every generations up to intrinsic_dim; null = all from the start",
      cfg::between(1, 4096));
    v("expand_every", expand_every, "generations between two expansions (with initial_dim)", cfg::positive());
    v("population", population, "CMA-ES candidates per generation (each a batch of UNet evaluations)",
      cfg::between(2, 1000));
    v("sigma", sigma, "CMA-ES initial step size, in the units of the principal components' coordinates",
      cfg::greater_than(0));
  }

  void check(const cfg::Node& section) const {
    if (initial_dim && *initial_dim > intrinsic_dim)
      throw InputError(section.find("initial_dim")->origin().describe() + ": method.initial_dim: expected 1.." +
                       std::to_string(intrinsic_dim) + " (method.intrinsic_dim), got " + std::to_string(*initial_dim));
  }
};

class GradientFreeTi : public peft::ParameterizedMethod, public CandidateSearch {
 public:
  GradientFreeTi(const GradientFreeTiOptions& o, const cfg::Node&) : options_(o) { name_ = "gradient_free_ti"; }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    rows_ = add_trainable_tokens(target.pipeline, {options_.placeholder}, "gradient_free_ti", "method.placeholder").rows;
    track(options_.placeholder, rows_->rows, "token");  // counted and saved as Textual Inversion's row
    rows_->rows.set_requires_grad(false);                // but searched, never differentiated
    if (shapes_only(target.pipeline)) return;
    const torch::Tensor& table = token_embedding_table(target.pipeline);
    dimension_ = std::min({options_.intrinsic_dim, table.size(1), table.size(0) - 1});
    {
      torch::NoGradGuard no_grad;
      subspace_ = principal_subspace(table.detach(), dimension_);
    }
    const std::string word = init_word_or_class(options_.init_word.value_or(""), target);
    p0_ = word.empty() ? torch::zeros({table.size(1)}, torch::kDouble)
                       : word_embedding(target.pipeline, word, "method.init_word").to(torch::kDouble);
    start_dim_ = std::min(options_.initial_dim.value_or(dimension_), dimension_);
    search_.emplace(torch::zeros({start_dim_}, torch::kDouble),
                    CmaEsOptions{options_.population, options_.sigma});
    install(search_->mean());
  }

  std::string describe() const override {
    const int64_t dims = dimension_ > 0 ? dimension_ : options_.intrinsic_dim;  // shapes only: the configured
    std::ostringstream out;
    out << "Gradient-free TI: 1 token embedding for " << options_.placeholder << ", CMA-ES (" << options_.population
        << " candidates, sigma " << options_.sigma << ") in " << dims << " principal directions";
    if (start_dim_ > 0 && start_dim_ < dims) out << " (from " << start_dim_ << ")";
    return out.str();
  }

  std::vector<std::string> train_prompts(const SubjectData&) const override { return captions_with(options_.placeholder); }
  std::string train_prompt(const SubjectData&) const override { return captions_with(options_.placeholder).front(); }
  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    return replace_subject(prompt, s, options_.placeholder);
  }

  // ---- CandidateSearch: one generation per training step ----
  int64_t propose(torch::Generator& generator) override {
    if (!search_) throw std::logic_error("gradient_free_ti: propose before attach to a real pipeline");
    if (start_dim_ < dimension_ && search_->generation() > 0 && search_->generation() % options_.expand_every == 0 &&
        search_->dimension() < dimension_)
      search_->expand(std::min(dimension_, 2 * search_->dimension()));
    candidates_ = search_->ask(generator);
    return candidates_.size(0);
  }
  void install_candidate(int64_t index) override { install(candidates_[index]); }
  void report(const std::vector<double>& fitness) override {
    search_->tell(fitness);
    install(search_->mean());
  }

 private:
  // The embedding of z (the first coordinates while the search is narrower than the subspace;
  // the rest are 0), written into the token's row.
  void install(const torch::Tensor& z) {
    torch::NoGradGuard no_grad;
    torch::Tensor full = torch::constant_pad_nd(z.to(torch::kDouble), {0, dimension_ - z.size(0)});
    torch::Tensor embedding = subspace_.to_table_space(full) + p0_;
    rows_->rows.copy_(embedding.to(rows_->rows.scalar_type()).view_as(rows_->rows));
  }

  GradientFreeTiOptions options_;
  std::shared_ptr<nn::AddedTokenRows> rows_;
  PrincipalSubspace subspace_;
  torch::Tensor p0_;
  int64_t dimension_ = 0, start_dim_ = 0;
  std::optional<CmaEs> search_;
  torch::Tensor candidates_;  // the last generation, [population, search dimension]
};

}  // namespace

void register_gradient_free_ti(Registry<MethodEntry>& registry) {
  register_method<GradientFreeTi, GradientFreeTiOptions>(
      registry, "gradient_free_ti",
      "Gradient-free Textual Inversion (arXiv 2304.05818): one token embedding found by CMA-ES in a PCA subspace, "
      "forward passes only",
      MethodBudget{250, 32, std::nullopt, std::nullopt,
                   "feizc/Gradient-Free-Textual-Inversion: budget 5000 evaluations / population 20 = 250 "
                   "generations, batch 32 (timesteps drawn once); DVAR: the engine's (no tuned rule)"});
}

}  // namespace pbench
