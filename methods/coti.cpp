// COTI — Yang, Wang, Zhang, Xiao, Wu, Chen, Zhao, "Controllable Textual Inversion for
// Personalized Text-to-Image Generation", arXiv 2304.05265. Reference code: jnzju/COTI (a
// driver of the AUTOMATIC1111 web UI's embedding API plus its scorers).
//
// What learns: Textual Inversion's token embeddings (methods/textual_inversion.hpp), nothing
// else. What COTI adds is the data: the training set grows by active learning from an
// unlabelled pool (methods/coti_pool.hpp). Training is cut into `cycles` equal parts of the
// budget; at the start of every cycle after the first the method
//   1. refits its relevance head (the concept against the rest of the pool) on the subject's
//      images and every image accepted so far, and fine-tunes its quality head on them
//      (methods/coti_scorers.hpp: the paper's concept-matching and aesthetic scores);
//   2. scores each pool image not yet taken: score = (quality/10)^quality_weight ·
//      relevance^(1 − quality_weight), in [0, 1] (see "ours" below for why a product);
//   3. adds the `queries_per_cycle` best to the training set (ActiveTrainingSet,
//      framework/train/active_training_set.hpp), each with its score as the weight of its
//      denoising loss: the paper's weighted (MMSE-derived) objective, in which an image counts as
//      much as it is believed to show the concept well; the subject's own images weigh 1;
//   4. labels each accepted image's quality for later fine-tuning with the reference's dynamic
//      schedule, 10 − (10 − s)·cycle/cycles (s its predicted quality): images taken early are
//      trusted as fully as the subject's, later ones by what the scorer said.
// Before the first query COTI is Textual Inversion, bit for bit.
//
// Defaults, from the reference: 8 vectors per token (nvpt 8), 20 cycles, 10 queries per cycle,
// batch 2, the first of A1111's rates (5e-4; its piecewise decay 2.5e-4 … 2.5e-5 per cycle is not
// reproduced: train.lr_schedule applies), the two scores weighted equally (quality_weight 0.5),
// the classifier's Adam 3e-4, the aesthetic head's fine-tuning lr 1e-3. Budget: 20 cycles x
// 10,000 steps (2000 per rate x 5 rates). Ours, marked:
//   - the combination: the reference adds its two raw scores. Heads trained here are not
//     calibrated against each other, and a sum lets a sharp image of something else outrank a
//     softer image of the concept; the weighted geometric mean is a product of "shows the concept"
//     and "is a good image" (the paper's MMSE weight is the probability that a sample is drawn
//     from the concept's distribution). Measured on the mini world (docs/methods.md), quality
//     head fitted on the subject's images alone: the sum picked 2 of 10 clean concept images,
//     the product 8. [chosen]
//   - the scorers (methods/coti_scorers.hpp): no LAION aesthetic predictor or ImageNet classifier
//     exists here; both heads sit on the frozen CLIP image encoder `image_encoder` (the
//     pipeline's own by default: builtin:mini's vision tower, never the metric CLIP) and are
//     trained by the method: quality on degraded copies of the subject's images, relevance on
//     the subject against the pool. [chosen]
//   - the default pool (coti_pool.hpp) and its size, 500 (the reference samples 10,000). [chosen]
//   - the reference keeps, per cycle, the embedding whose samples score best; here the
//     embedding trains on through the cycles and the last one is the result (sampling every
//     cycle would cost more than the training at this scale). [chosen]
//   - head steps: quality 300 on the proxy set, then 50 per cycle; relevance 200 per cycle,
//     warm-started. [chosen]
// Count: num_vectors x 768 on SD v1.5 (6,144 at 8 vectors); the heads are not saved.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <iomanip>
#include <optional>
#include <sstream>

#include "framework/models/sd/image_encoder.hpp"
#include "framework/train/active_training_set.hpp"
#include "framework/train/method_options.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "methods/added_tokens.hpp"
#include "methods/coti_pool.hpp"
#include "methods/coti_scorers.hpp"
#include "methods/methods.hpp"
#include "methods/textual_inversion.hpp"

namespace pbench {
namespace {

constexpr int64_t kQualityProxySteps = 300, kQualityTuneSteps = 50, kRelevanceSteps = 200;
constexpr double kQualityLr = 1e-3, kRelevanceLr = 3e-4;  // the reference's
// The quality head first learns from kProxyImages degraded copies of the subject's images and of
// kProxyPoolImages pool images.
constexpr int64_t kProxyImages = 256, kProxyPoolImages = 48;

struct CotiOptions {
  std::string placeholder = "<sks>";
  std::optional<std::string> init_word;
  int64_t num_vectors = 8;
  std::optional<double> lr = 5e-4;
  std::string pool;
  int64_t pool_size = 500;
  int64_t cycles = 20;
  int64_t queries_per_cycle = 10;
  double quality_weight = 0.5;
  std::string image_encoder = models::kPipelineImageEncoder;

  template <class V>
  void fields(V& v) {
    v("placeholder", placeholder, "the new token S* (more vectors add <sks>_1, <sks>_2, ...)");
    v("init_word", init_word, "word whose embedding the new rows start from; null = the subject's class noun");
    v("num_vectors", num_vectors, "embedding vectors per placeholder (the reference's nvpt 8)", prompt_token_count());
    v("lr", lr, "learning rate (the first of the reference's A1111 rates); null = train.lr", cfg::learning_rate());
    v("pool", pool,
      "folder of unlabelled candidate images; \"\" = the dataset's: the other DreamBooth subjects, or mini-world renders");
    v("pool_size", pool_size, "images taken from the pool (the first, sorted by name; renders drawn)",
      cfg::between(1, 100000));
    v("cycles", cycles, "active-learning cycles the budget is cut into (a query starts each after the first)",
      cfg::between(1, 1000));
    v("queries_per_cycle", queries_per_cycle, "pool images added to the training set per cycle",
      cfg::between(1, 10000));
    v("quality_weight", quality_weight, "exponent of the quality score in an image's score (quality^w x relevance^(1-w)); 0 = relevance alone",
      cfg::between(0, 1));
    v("image_encoder", image_encoder,
      "CLIP image encoder the scorers read: pipeline (the model folder's image_encoder/), builtin:mini-clip, "
      "builtin:tiny-clip or a CLIP folder");
  }
};

class Coti : public TextualInversion, public ActiveTrainingSet {
 public:
  Coti(const CotiOptions& o, const cfg::Node& section)
      : TextualInversion(o.placeholder, o.init_word.value_or(""), o.num_vectors, o.lr, "coti"), o_(o), section_(section) {}

  void attach(MethodTarget& target) override {
    TextualInversion::attach(target);
    if (!target.subject || shapes_only(target.pipeline)) return;  // counting: the tokens are all there is
    // The method's own stream, seeded from the run's: the pool draw, the heads' inits, the proxy set.
    generator_ = at::detail::createCPUGenerator(uint64_t(torch::randint(1LL << 40, {1}, target.generator, torch::kInt64).item<int64_t>()));
    const models::ImageEncoder encoder = models::load_image_encoder(o_.image_encoder, target.pipeline);
    encoder_source_ = encoder.source;
    const uint64_t pool_seed = uint64_t(torch::randint(1LL << 40, {1}, generator_, torch::kInt64).item<int64_t>());
    pool_ = coti::load_pool(o_.pool, *target.subject, o_.pool_size, pool_seed, target.cache_dir,
                            section_.find("pool")->origin().describe() + ": method.pool");
    pool_features_ = embed(encoder, pool_.pixels);
    const torch::Tensor subject_pixels = images_to_tensor(target.subject->images);
    subject_features_ = embed(encoder, subject_pixels);

    // The quality head's first fit: the subject's images and some of the pool's (so that it learns
    // what degradation looks like on many contents, not one), each at strengths spread over [0, 1].
    const int64_t from_pool = std::min<int64_t>(kProxyPoolImages, pool_.pixels.size(0));
    const torch::Tensor picks = torch::randperm(pool_.pixels.size(0), generator_, torch::kInt64).slice(0, 0, from_pool);
    const torch::Tensor clean = torch::cat({subject_pixels, pool_.pixels.index_select(0, picks)});
    const int64_t n = clean.size(0), copies = std::max<int64_t>(2, kProxyImages / n);
    const torch::Tensor strength = torch::linspace(0.0, 1.0, copies).repeat({n});
    const torch::Tensor sources = clean.repeat_interleave(copies, 0);
    proxy_features_ = embed(encoder, coti::degrade(sources, strength, generator_));
    proxy_labels_ = 10.0 * (1.0 - strength.to(torch::kFloat));
    const int64_t d = pool_features_.size(1);
    quality_.emplace(d, generator_);
    relevance_.emplace(d, generator_);
    quality_->fit(proxy_features_, proxy_labels_, kQualityProxySteps, kQualityLr);
  }

  std::string describe() const override {
    std::ostringstream out;
    out << "COTI: " << num_vectors() << " token embedding(s), " << o_.cycles << " cycles x " << o_.queries_per_cycle
        << " images from " << (pool_.description.empty() ? std::string("the pool") : pool_.description);
    if (!encoder_source_.empty()) out << ", scored on " << encoder_source_;
    return out.str();
  }

  // ---- ActiveTrainingSet: a query at the first step of every cycle after the first ----
  TrainingSetAddition images_to_add(int64_t step, int64_t total_steps) override {
    if (!quality_ || step <= 1) return {};
    const auto cycle_of = [&](int64_t s) { return (s - 1) * o_.cycles / std::max<int64_t>(1, total_steps); };
    const int64_t cycle = cycle_of(step);
    if (cycle == cycle_of(step - 1)) return {};
    const std::vector<int64_t> open = open_rows();
    if (open.empty()) return {};

    const torch::Tensor features = pool_features_.index_select(0, torch::tensor(open, torch::kInt64));
    refit_scorers(features);
    const torch::Tensor quality = quality_->score(features), relevance = relevance_->score(features);
    const torch::Tensor score =
        (quality / 10.0).pow(o_.quality_weight) * relevance.pow(1.0 - o_.quality_weight);
    const int64_t k = std::min<int64_t>(o_.queries_per_cycle, int64_t(open.size()));
    const torch::Tensor best = std::get<1>(score.topk(k));

    TrainingSetAddition add;
    std::vector<int64_t> rows;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t b = best[j].item<int64_t>(), row = open[size_t(b)];
      rows.push_back(row);
      add.sources.push_back(pool_.sources[size_t(row)]);
      accepted_.push_back(row);
      accepted_weights_.push_back(score[b].item<float>());
      // The dynamic schedule: early picks are trusted like the subject's images (10).
      accepted_labels_.push_back(float(10.0 - (10.0 - quality[b].item<double>()) * double(cycle) / double(o_.cycles)));
    }
    add.pixels = pool_.pixels.index_select(0, torch::tensor(rows, torch::kInt64));
    add.weights = score.index_select(0, best);
    std::ostringstream note;
    note << std::fixed << std::setprecision(2) << "COTI cycle " << cycle + 1 << "/" << o_.cycles << ": +" << k
         << " pool images, score " << add.weights.min().item<double>() << "-" << add.weights.max().item<double>()
         << " (relevance " << relevance.index_select(0, best).mean().item<double>() << ", quality "
         << quality.index_select(0, best).mean().item<double>() << "/10); " << accepted_.size() << " added in all";
    add.note = note.str();
    return add;
  }

 private:
  // Pool rows not taken yet, in order.
  std::vector<int64_t> open_rows() const {
    std::vector<bool> taken(size_t(pool_features_.size(0)), false);
    for (int64_t row : accepted_) taken[size_t(row)] = true;
    std::vector<int64_t> open;
    for (size_t i = 0; i < taken.size(); ++i)
      if (!taken[i]) open.push_back(int64_t(i));
    return open;
  }

  static torch::Tensor embed(const models::ImageEncoder& encoder, const torch::Tensor& pixels) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < pixels.size(0); i += 64)
      parts.push_back(encoder.encode(pixels.slice(0, i, std::min<int64_t>(i + 64, pixels.size(0))), true));
    return torch::nn::functional::normalize(torch::cat(parts).to(torch::kCPU, torch::kFloat),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  }

  // Step 1 of a cycle: the relevance head on the concept (the subject's images at weight 1, the
  // accepted ones at their scores) against `untaken`, the embeddings of the pool images not taken;
  // the quality head fine-tuned on its proxy set and the accepted images at their scheduled labels.
  void refit_scorers(const torch::Tensor& untaken) {
    torch::Tensor positive = subject_features_, positive_weights = torch::ones({subject_features_.size(0)});
    torch::Tensor quality_x = proxy_features_, quality_y = proxy_labels_;
    if (!accepted_.empty()) {
      const torch::Tensor taken = pool_features_.index_select(0, torch::tensor(accepted_, torch::kInt64));
      positive = torch::cat({positive, taken});
      positive_weights = torch::cat({positive_weights, torch::tensor(accepted_weights_)});
      quality_x = torch::cat({quality_x, taken});
      quality_y = torch::cat({quality_y, torch::tensor(accepted_labels_)});
    }
    relevance_->fit(positive, positive_weights, untaken, kRelevanceSteps, kRelevanceLr);
    quality_->fit(quality_x, quality_y, kQualityTuneSteps, kQualityLr);
  }

  CotiOptions o_;
  cfg::Node section_;
  torch::Generator generator_;
  std::string encoder_source_;
  coti::ImagePool pool_;
  torch::Tensor pool_features_, subject_features_, proxy_features_, proxy_labels_;  // embeddings [N, d], CPU
  std::optional<coti::QualityScorer> quality_;
  std::optional<coti::RelevanceScorer> relevance_;
  std::vector<int64_t> accepted_;  // pool rows in the order taken
  std::vector<float> accepted_weights_, accepted_labels_;
};

}  // namespace

void register_coti(Registry<MethodEntry>& registry) {
  register_method<Coti, CotiOptions>(
      registry, "coti",
      "COTI (arXiv 2304.05265): Textual Inversion on a training set grown by active selection from an image pool, "
      "weighted by relevance and quality scores",
      MethodBudget{200000, 2, std::nullopt, std::nullopt,
                   "jnzju/COTI: 20 cycles x 10,000 steps (2000 per A1111 rate x 5 rates), batch 2; DVAR: the "
                   "engine's (no tuned rule)"});
}

}  // namespace pbench
