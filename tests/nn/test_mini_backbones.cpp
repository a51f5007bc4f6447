// The shipped metric backbones of the mini world (issue 34): builtin:mini-clip
// tells class, colour and background of held-out renders zero-shot, and
// builtin:mini-dino finds each subject's other images (its k-NN class accuracy
// is printed: it is at chance today, see docs/mini_world.md).
// The same probes on the same architectures with random weights score far
// below the thresholds, so these checks fail when the trained weights are
// missing or broken. Thresholds sit a margin under the numbers measured on
// this fixed set (docs/mini_world.md has the full held-out evaluations).
#define BOOST_TEST_MODULE mini_backbones
#include <boost/test/unit_test.hpp>

#include "framework/models/deterministic_init.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/world_probes.hpp"

using namespace pbench;
using namespace pbench::pretrain;

namespace {

constexpr int kResolution = 64;
constexpr int64_t kHeldOut = 100, kBank = 400;
// Measured on this set with the shipped weights (commit of this line), minus a margin.
constexpr double kClipClassThreshold = 0.17, kClipColourThreshold = 0.88, kClipBackgroundThreshold = 0.92;  // 0.24, 0.96, 1.00
constexpr double kDinoRetrievalThreshold = 0.55;  // 0.627 (random weights: 0.02)
// The DINO k-NN class accuracy is reported, not asserted: the shipped ViT (32 px input) is at chance
// there (0.13 vs 0.11 for random weights, docs/mini_world.md), so no threshold could tell them apart.

const ScenePool& held_out() {
  static const ScenePool pool = render_pool(20261206, kHeldOut, kResolution, true);
  return pool;
}

// k-NN class accuracy of `query` renders against a bank of training renders.
double knn(const models::DinoBackbone& dino, const ScenePool& query) {
  static const ScenePool bank = render_pool(7, kBank, kResolution, false);
  return knn_class_accuracy(dino.encode_images(bank.images_u8), class_labels(bank.scenes),
                            dino.encode_images(query.images_u8), class_labels(query.scenes), 20, mini::kShapes);
}

// New renders of training triples (unseen images, seen combinations).
const ScenePool& unseen_training_renders() {
  static const ScenePool pool = render_pool(11, kHeldOut, kResolution, false);
  return pool;
}

double retrieval(const models::DinoBackbone& dino) {
  static const SubjectImages subjects = render_subject_images(kResolution);
  return nearest_neighbour_retrieval(dino.encode_images(subjects.images_u8), subjects.subject);
}

}  // namespace

BOOST_AUTO_TEST_CASE(mini_clip_classifies_held_out_renders_zero_shot) {
  const models::ClipBackbone clip = models::load_clip_backbone(models::kBuiltinMiniClip);
  BOOST_TEST(!clip.builtin);  // trained: no "pipeline checks only" note
  const ZeroShotAccuracy trained = clip_zero_shot(clip, held_out().scenes, held_out().images_u8);
  BOOST_TEST_MESSAGE("mini-clip zero-shot: class " << trained.class_accuracy << ", colour " << trained.colour_accuracy
                                                   << ", background " << trained.background_accuracy);
  BOOST_TEST(trained.class_accuracy >= kClipClassThreshold);
  BOOST_TEST(trained.colour_accuracy >= kClipColourThreshold);
  BOOST_TEST(trained.background_accuracy >= kClipBackgroundThreshold);

  models::ClipBackbone random = models::load_clip_backbone(models::kBuiltinMiniClip);
  models::deterministic_init(*random.text, 1, "random text tower");
  models::deterministic_init(*random.vision, 2, "random vision tower");
  const ZeroShotAccuracy chance = clip_zero_shot(random, held_out().scenes, held_out().images_u8);
  BOOST_TEST(chance.class_accuracy < kClipClassThreshold);
  BOOST_TEST(chance.colour_accuracy < kClipColourThreshold);
  BOOST_TEST(chance.background_accuracy < kClipBackgroundThreshold);
}

BOOST_AUTO_TEST_CASE(mini_dino_finds_a_subject_across_scenes) {
  const models::DinoBackbone dino = models::load_dino_backbone(models::kBuiltinMiniDino);
  BOOST_TEST(!dino.builtin);
  const double trained_knn = knn(dino, unseen_training_renders()), trained_retrieval = retrieval(dino);
  BOOST_TEST_MESSAGE("mini-dino: k-NN class " << trained_knn << " (unseen renders of training triples), "
                     << knn(dino, held_out()) << " (held-out triples), subject retrieval " << trained_retrieval);
  BOOST_TEST(trained_retrieval >= kDinoRetrievalThreshold);

  models::DinoBackbone random = models::load_dino_backbone(models::kBuiltinMiniDino);
  models::deterministic_init(*random.model, 3, "random ViT");
  const double random_knn = knn(random, unseen_training_renders()), random_retrieval = retrieval(random);
  BOOST_TEST_MESSAGE("random ViT: k-NN class " << random_knn << ", subject retrieval " << random_retrieval);
  BOOST_TEST(random_retrieval < kDinoRetrievalThreshold);
}
