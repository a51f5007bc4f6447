// CLIP early stopping's rule against yandex-research/DVAR's ClipEarlyStopper,
// replayed by hand: the first check sets the best; a check improves only when it
// beats the best by more than delta; it fires when more than `patience` checks in
// a row did not improve. And K scaled to the budget (clip_stop.hpp).
#define BOOST_TEST_MODULE clip_stop
#include <boost/test/unit_test.hpp>

#include "framework/train/clip_stop.hpp"

using namespace pbench;

namespace {
ClipStopOptions config(double delta, int64_t patience) {
  ClipStopOptions c;
  c.delta = delta;
  c.patience = patience;
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(fires_after_more_than_patience_checks_without_improvement) {
  ClipStopRule rule(config(0.05, 2));
  BOOST_TEST(!rule.add(0.30));  // sets the best
  BOOST_TEST(!rule.add(0.34));  // +0.04 <= delta: no improvement (1)
  BOOST_TEST(rule.best() == 0.30);
  BOOST_TEST(!rule.add(0.36));  // +0.06 > delta: improvement, counter reset
  BOOST_TEST(rule.best() == 0.36);
  BOOST_TEST(rule.checks_without_improvement() == 0);
  BOOST_TEST(!rule.add(0.20));  // 1
  BOOST_TEST(!rule.add(0.40));  // +0.04: 2 (== patience, not more)
  BOOST_TEST(rule.add(0.41));   // 3 > 2: fires
  BOOST_TEST(rule.triggered());
  BOOST_TEST(rule.add(0.90));  // after firing, values change nothing
  BOOST_TEST(rule.best() == 0.36);
}

BOOST_AUTO_TEST_CASE(a_steadily_improving_run_never_fires) {
  ClipStopRule rule(config(0.05, 0));
  for (int i = 0; i < 50; ++i) BOOST_TEST(!rule.add(0.1 * i));
}

BOOST_AUTO_TEST_CASE(zero_patience_fires_at_the_first_flat_check) {
  ClipStopRule rule(config(0.05, 0));
  BOOST_TEST(!rule.add(0.5));
  BOOST_TEST(rule.add(0.5));
}

BOOST_AUTO_TEST_CASE(interval_is_a_tenth_of_the_budget_unless_set) {
  ClipStopOptions c;
  BOOST_TEST(c.interval(150) == 15);
  BOOST_TEST(c.interval(151) == 16);  // rounded up: at most ten checks
  BOOST_TEST(c.interval(12) == 2);
  BOOST_TEST(c.interval(5) == 1);
  c.every = 50;  // the paper's K
  BOOST_TEST(c.interval(150) == 50);
}
