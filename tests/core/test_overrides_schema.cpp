#define BOOST_TEST_MODULE overrides_schema
#include <boost/test/unit_test.hpp>

#include <functional>

#include "framework/config/access.hpp"
#include "framework/config/overrides.hpp"
#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/registry/registry.hpp"
#include "framework/util/errors.hpp"

namespace cfg = pbench::cfg;
using cfg::Override;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pbench::InputError& e) {
    return e.what();
  }
  return "";
}
cfg::Node yaml(const std::string& text, const std::string& file = "experiments/svdiff.yaml") {
  return cfg::parse_yaml_text(text, {file, 0});
}
}  // namespace

BOOST_AUTO_TEST_CASE(override_prefixes) {
  BOOST_TEST((cfg::parse_override("a.b=1").op == Override::Op::Set));
  BOOST_TEST((cfg::parse_override("+a.b=1").op == Override::Op::Add));
  BOOST_TEST((cfg::parse_override("++a.b=1").op == Override::Op::ForceAdd));
  auto del = cfg::parse_override("~a.b");
  BOOST_TEST((del.op == Override::Op::Delete));
  BOOST_TEST(del.values.empty());
  BOOST_TEST(cfg::parse_override("~a.b=3").values.at(0).as_int() == 3);
}

BOOST_AUTO_TEST_CASE(override_values_are_typed) {
  BOOST_TEST((cfg::parse_override("a=1e-4").values[0].kind() == cfg::Node::Kind::Float));
  BOOST_TEST((cfg::parse_override("a=7").values[0].kind() == cfg::Node::Kind::Int));
  BOOST_TEST((cfg::parse_override("a=true").values[0].kind() == cfg::Node::Kind::Bool));
  BOOST_TEST((cfg::parse_override("a='7'").values[0].kind() == cfg::Node::Kind::String));
  BOOST_TEST((cfg::parse_override("a=null").values[0].is_null()));
  BOOST_TEST(cfg::parse_override("a=").values[0].as_string() == "");
  auto list = cfg::parse_override("a=[1,2,3]");
  BOOST_TEST(!list.sweep);
  BOOST_TEST(list.values[0].items().size() == 3u);
}

BOOST_AUTO_TEST_CASE(sweep_syntaxes) {
  auto comma = cfg::parse_override("lr=1e-4,5e-4");
  BOOST_TEST(comma.sweep);
  BOOST_TEST(comma.values.size() == 2u);
  BOOST_TEST(comma.values[1].as_double() == 5e-4);
  auto range = cfg::parse_override("seed=range(0,5)");
  BOOST_TEST(range.values.size() == 5u);
  BOOST_TEST(range.values[4].as_int() == 4);
  BOOST_TEST(cfg::parse_override("seed=range(3)").values.size() == 3u);
  BOOST_TEST(cfg::parse_override("x=range(10,0,-5)").values[1].as_int() == 5);
  auto choice = cfg::parse_override("method=choice(lora,svdiff)");
  BOOST_TEST(choice.values[1].as_string() == "svdiff");
  auto quoted = cfg::parse_override("name='a,b'");
  BOOST_TEST(!quoted.sweep);
  BOOST_TEST(quoted.values[0].as_string() == "a,b");
  BOOST_TEST(cfg::parse_override("seed=range(0,3)").with_value(2).text == "seed=2");
}

BOOST_AUTO_TEST_CASE(bad_overrides_are_input_errors) {
  BOOST_TEST(error_of([] { cfg::parse_override("a.b"); }).find("missing '='") != std::string::npos);
  BOOST_TEST(error_of([] { cfg::parse_override("=3"); }).find("not a valid key") != std::string::npos);
  BOOST_TEST(error_of([] { cfg::parse_override("~a=1,2"); }).find("cannot sweep") != std::string::npos);
  BOOST_TEST(error_of([] { cfg::parse_override("a=range(x)"); }).find("must be numbers") != std::string::npos);
  BOOST_TEST(error_of([] { cfg::parse_override("a=range(0,3,0)"); }).find("step must not be 0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(typed_access_names_file_key_found_and_expected) {
  cfg::Node c = yaml("train:\n  lr: fast\n  steps: 10\n");
  std::string msg = error_of([&] { cfg::get_double(c, "train.lr"); });
  BOOST_TEST(msg == "experiments/svdiff.yaml:2: train.lr: expected a number, got 'fast'");
  BOOST_TEST(cfg::get_int(c, "train.steps") == 10);
  BOOST_TEST(cfg::get_double(c, "train.steps") == 10.0);  // an int is a number
  BOOST_TEST(error_of([&] { cfg::get_int(c, "train.missing"); }).find("train.missing: required key is missing") !=
             std::string::npos);
  BOOST_TEST(cfg::get_int(c, "train.missing", 3) == 3);
  BOOST_TEST(error_of([&] { cfg::get_bool(c, "train.steps"); }) ==
             "experiments/svdiff.yaml:3: train.steps: expected true or false, got '10'");
}

BOOST_AUTO_TEST_CASE(schema_rejects_unknown_keys_and_wrong_types) {
  cfg::Node defaults = yaml("rank: 4\nalpha: 4.0\ntargets: [to_q]\ninit: {std: 0.02}\nextra: null\n", "defaults");
  cfg::Node ok = yaml("rank: 8\nalpha: 1\ntargets: [to_k, to_v]\ninit: {std: 0.1}\nextra: [1]\n",
                      "experiments/method/lora.yaml");
  BOOST_CHECK_NO_THROW(cfg::validate_against(ok, defaults, "method", "method 'lora'"));
  cfg::Node typo = yaml("rank: 8\nrnak: 4\n", "experiments/method/lora.yaml");
  BOOST_TEST(error_of([&] { cfg::validate_against(typo, defaults, "method", "method 'lora'"); }) ==
             "experiments/method/lora.yaml:2: method.rnak: unknown key for method 'lora'; allowed: rank, alpha, "
             "targets, init, extra");
  cfg::Node wrong = yaml("alpha: big\n", "experiments/method/lora.yaml");
  BOOST_TEST(error_of([&] { cfg::validate_against(wrong, defaults, "method", "method 'lora'"); }) ==
             "experiments/method/lora.yaml:1: method.alpha: expected a number, got 'big'");
  cfg::Node nested = yaml("init: {mean: 0}\n", "x.yaml");
  BOOST_TEST(error_of([&] { cfg::validate_against(nested, defaults, "method", "m"); }).find("method.init.mean") !=
             std::string::npos);
  cfg::Node filled = cfg::with_defaults(yaml("rank: 8\nalpha: null\ninit: null\n"), defaults);
  BOOST_TEST(filled.find("alpha")->is_null());                  // an explicit null is the user's value
  BOOST_TEST(cfg::get_double(filled, "init.std") == 0.02);       // a null section takes the defaults
  BOOST_TEST(cfg::get_int(filled, "rank") == 8);
  BOOST_TEST(cfg::get_double(filled, "init.std") == 0.02);
}

BOOST_AUTO_TEST_CASE(registry_lists_sorted_and_names_unknown_entries) {
  pbench::Registry<int> reg("method");
  reg.add({"svdiff", "spectral shifts", pbench::yaml_defaults("lr_1d: 1e-6\n")}, 2);
  reg.add({"lora", "low-rank adapters", pbench::yaml_defaults("rank: 4\n")}, 1);
  BOOST_TEST(reg.names() == (std::vector<std::string>{"lora", "svdiff"}));
  BOOST_TEST(reg.get("svdiff", "x").factory == 2);
  BOOST_CHECK_THROW(reg.add({"lora", "", {}}, 3), std::logic_error);
  BOOST_TEST(error_of([&] { reg.get("lorra", "experiments/a.yaml:3: method.name"); }) ==
             "experiments/a.yaml:3: method.name: unknown method 'lorra'; registered: lora, svdiff (see run_sweep --list)");
  BOOST_TEST(reg.infos()[0].defaults.find("rank")->as_int() == 4);
}

// Issue 41, class 1: user input is never walked by recursion without a cap. A key of 20,000
// levels and values of 200,000 characters overflowed the stack (std::regex recurses per character).
BOOST_AUTO_TEST_CASE(huge_override_keys_and_values_are_refused_or_read_without_recursion) {
  std::string deep = "k";
  for (int i = 0; i < 20000; ++i) deep += ".k";
  const std::string msg = error_of([&] { cfg::parse_override("++" + deep + "=1"); });
  BOOST_TEST(msg.find("20001 levels; a config key has at most 64") != std::string::npos, msg);
  BOOST_CHECK_NO_THROW(cfg::parse_override(deep.substr(0, 2 * 64 - 1) + "=1"));  // 64 levels: allowed
  const std::string digits(200000, '7');
  cfg::Override big = cfg::parse_override("seed=" + digits);
  BOOST_TEST(big.values.size() == 1u);  // read (as text: no int64 or double holds it), not a crash
  cfg::Override word = cfg::parse_override("dataset.root=" + std::string(200000, 'a'));
  BOOST_TEST(word.values.front().is_string());
  BOOST_TEST(cfg::parse_override("x=range(0,11)").values.size() == 11u);
  BOOST_TEST(cfg::parse_override("x=choice(a,b)").values.size() == 2u);
  BOOST_TEST(cfg::parse_override(std::string(200000, 'k') + "=1").key.size() == 200000u);
  // Scalars keep their YAML types after the hand-written scan (it replaced a regex).
  for (const char* f : {"1e-4", ".5", "5.", "-2.5E+3", "+3"}) BOOST_TEST(cfg::parse_override(std::string("x=") + f).values.front().is_number(), f);
  for (const char* s : {"1e", ".", "e5", "1.2.3", "--1", "0x10"}) BOOST_TEST(cfg::parse_override(std::string("x=") + s).values.front().is_string(), s);
  BOOST_TEST((cfg::parse_override("x=42").values.front().kind() == cfg::Node::Kind::Int));
}

// Issue 41, class 4: an axis given twice was half-dropped; it is refused, naming both.
BOOST_AUTO_TEST_CASE(a_key_given_twice_on_the_command_line_is_refused) {
  const std::string msg = error_of([] { cfg::parse_command_line_overrides({"seed=0,1", "train.lr=1", "seed=2,3"}); });
  BOOST_TEST(msg.find("seed is given twice ('seed=0,1' and 'seed=2,3')") != std::string::npos, msg);
  BOOST_CHECK_THROW(cfg::parse_command_line_overrides({"~seed", "seed=1"}), pbench::InputError);
  BOOST_TEST(cfg::parse_command_line_overrides({"seed=1", "method.rank=4", "method=lora"}).size() == 3u);
}
