#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <functional>

#include "framework/config/options.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"

namespace cfg = pbench::cfg;

namespace {
// Every field type the tables support, with ranges and choices.
struct Example {
  int64_t rank = 4;
  double alpha = 4.0;
  std::vector<std::string> targets{"to_q", "to_k"};
  std::optional<double> lr = 1e-4;
  std::optional<std::string> init_word;
  std::string activation = "gelu";
  bool text_encoder = false;
  std::optional<std::vector<int64_t>> ranks;
  double eta = 0.0;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "rank r", cfg::at_least(1));
    v("alpha", alpha, "scale");
    v("targets", targets, "layers");
    v("lr", lr, "learning rate; null = train.lr", cfg::learning_rate());
    v("init_word", init_word, "init word; null = the class noun");
    v("activation", activation, "nonlinearity", cfg::one_of({"relu", "gelu", "silu"}));
    v("text_encoder", text_encoder, "also the text encoder");
    v("ranks", ranks, "ranks scored", cfg::at_least(1));
    v("eta", eta, "DDIM eta", cfg::between(0, 1));
  }
};

cfg::Node yaml(const std::string& text) { return cfg::parse_yaml_text(text, {"exp.yaml", 0}); }

std::string error_of(const std::string& text) {
  try {
    cfg::read_options<Example>(yaml(text), "method");
  } catch (const pbench::InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(defaults_node_has_the_member_initializers_with_their_yaml_kinds) {
  cfg::Node d = cfg::options_node<Example>("example");
  BOOST_TEST((d.keys() == std::vector<std::string>{"name", "rank", "alpha", "targets", "lr", "init_word", "activation",
                                                   "text_encoder", "ranks", "eta"}));
  BOOST_TEST(d.find("name")->as_string() == "example");
  BOOST_TEST((d.find("rank")->kind() == cfg::Node::Kind::Int));
  BOOST_TEST((d.find("alpha")->kind() == cfg::Node::Kind::Float));  // 4.0, not 4: run ids hash the kind
  BOOST_TEST(d.find("lr")->as_double() == 1e-4);
  BOOST_TEST(d.find("init_word")->is_null());
  BOOST_TEST(d.find("targets")->items().at(1).as_string() == "to_k");
  // The YAML text the registry stores parses back to the same tree.
  BOOST_TEST((cfg::parse_yaml_text(cfg::to_yaml(d), {"round trip", 0}) == d));
}

BOOST_AUTO_TEST_CASE(a_section_overrides_only_what_it_names) {
  Example o = cfg::read_options<Example>(
      yaml("name: example\nrank: 8\nalpha: 2\nlr: null\ninit_word: cat\nranks: [1, 2]\ntargets: [attn2, 0]\n"), "method");
  BOOST_TEST(o.rank == 8);
  BOOST_TEST(o.alpha == 2.0);  // an integer is a number
  BOOST_TEST(!o.lr.has_value());
  BOOST_TEST(*o.init_word == "cat");
  BOOST_TEST((*o.ranks == std::vector<int64_t>{1, 2}));
  BOOST_TEST((o.targets == std::vector<std::string>{"attn2", "0"}));
  BOOST_TEST(o.activation == "gelu");
  BOOST_TEST(cfg::read_options<Example>(cfg::Node::null(), "method").rank == 4);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_file_line_key_and_what_was_expected) {
  BOOST_TEST(error_of("rank: 0\n") == "exp.yaml:1: method.rank: expected an integer >= 1, got '0'");
  BOOST_TEST(error_of("rank: 2.5\n") == "exp.yaml:1: method.rank: expected an integer >= 1, got '2.5'");
  BOOST_TEST(error_of("rank: null\n") == "exp.yaml:1: method.rank: expected an integer >= 1, got null");
  BOOST_TEST(error_of("a: 1\nlr: -0.1\n") == "exp.yaml:2: method.lr: expected a finite learning rate >= 0, got '-0.1'");
  BOOST_TEST(error_of("lr: .inf\n").find("method.lr: expected a finite learning rate >= 0") != std::string::npos);
  BOOST_TEST(error_of("lr: fast\n").find("method.lr: expected a finite learning rate >= 0, got 'fast'") != std::string::npos);
  BOOST_TEST(error_of("alpha: .nan\n").find("method.alpha: expected a finite number") != std::string::npos);
  BOOST_TEST(error_of("eta: 1.5\n") == "exp.yaml:1: method.eta: expected a finite number in [0, 1], got '1.5'");
  BOOST_TEST(error_of("activation: tanh\n") == "exp.yaml:1: method.activation: expected relu, gelu or silu, got 'tanh'");
  BOOST_TEST(error_of("text_encoder: 1\n") == "exp.yaml:1: method.text_encoder: expected true or false, got '1'");
  BOOST_TEST(error_of("targets: to_q\n") == "exp.yaml:1: method.targets: expected a list of strings, got 'to_q'");
  BOOST_TEST(error_of("init_word: [a]\n") == "exp.yaml:1: method.init_word: expected a string, got a list");
  BOOST_TEST(error_of("ranks: [1, 0]\n").find("method.ranks: expected a list of integers >= 1, got '0'") !=
             std::string::npos);
  BOOST_TEST(error_of("rnak: 4\n") ==
             "exp.yaml:1: method.rnak: unknown key; allowed: rank, alpha, targets, lr, init_word, activation, "
             "text_encoder, ranks, eta");
  BOOST_TEST(error_of("name: example\n").empty());
}

BOOST_AUTO_TEST_CASE(docs_list_every_option_with_type_default_and_allowed_values) {
  auto docs = cfg::option_docs<Example>();
  BOOST_REQUIRE(docs.size() == 9u);
  BOOST_TEST(docs[0].key == "rank");
  BOOST_TEST(docs[0].type == "integer");
  BOOST_TEST(docs[0].allowed == ">= 1");
  BOOST_TEST(docs[3].type == "number or null");
  BOOST_TEST(docs[5].allowed == "one of relu, gelu or silu");
  BOOST_TEST(docs[7].type == "list of integers or null");
  std::string text = cfg::format_option_docs(docs);
  BOOST_TEST(text.find("  rank: 4   (integer, >= 1)\n      rank r\n") != std::string::npos, text);
  BOOST_TEST(text.find("  targets: [to_q, to_k]   (list of strings)\n") != std::string::npos, text);
  BOOST_TEST(text.find("  lr: 1.0e-04   (number or null, >= 0)\n") != std::string::npos, text);
}

namespace {
// An enum field and nested sections, as a run config's engine sections use them.
enum class Mode { monitor, stop, off };
const cfg::EnumNames<Mode>& enum_names(Mode) {
  static const cfg::EnumNames<Mode> names{{Mode::monitor, "monitor"}, {Mode::stop, "stop"}, {Mode::off, "off"}};
  return names;
}
struct Inner {
  Mode mode = Mode::monitor;
  int64_t steps = 100;
  template <class V>
  void fields(V& v) {
    v("mode", mode, "what the rule does");
    v("steps", steps, "budget", cfg::positive());
  }
};
struct Root {
  Inner train;
  std::string device = "cpu";
  template <class V>
  void fields(V& v) {
    v("train", train, "the loop");
    v("device", device, "where", cfg::one_of({"cpu", "cuda"}));
  }
};
std::string root_error_of(const std::string& text) {
  try {
    cfg::read_declared_options<Root>(yaml(text));
  } catch (const pbench::InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(enum_fields_read_and_write_their_names) {
  Root r = cfg::read_declared_options<Root>(yaml("train:\n  mode: stop\nseed: 3\n"));  // seed: not Root's, left alone
  BOOST_TEST((r.train.mode == Mode::stop));
  BOOST_TEST(r.train.steps == 100);  // absent: the default
  BOOST_TEST(cfg::enum_name(Mode::off) == "off");
  BOOST_TEST(root_error_of("train:\n  mode: halt\n") == "exp.yaml:2: train.mode: expected monitor, stop or off, got 'halt'");
  BOOST_TEST(root_error_of("train:\n  mode: 1\n").find("train.mode: expected monitor, stop or off") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nested_sections_write_read_and_document_as_maps) {
  cfg::Node d = cfg::options_node<Root>();
  BOOST_TEST((d.keys() == std::vector<std::string>{"train", "device"}));
  BOOST_TEST(d.find("train")->find("mode")->as_string() == "monitor");
  BOOST_TEST(d.find("train")->find("steps")->as_int() == 100);
  // Inside a section unknown keys are refused (at the root they belong to others).
  BOOST_TEST(root_error_of("train:\n  stpes: 3\n") == "exp.yaml:2: train.stpes: unknown key; allowed: mode, steps");
  BOOST_TEST(root_error_of("train: 3\n") == "exp.yaml:1: train: expected a map, got '3'");
  BOOST_TEST(root_error_of("train:\n  steps: 0\n") == "exp.yaml:2: train.steps: expected a positive integer, got '0'");
  BOOST_TEST(cfg::read_declared_options<Root>(yaml("train:\n")).train.steps == 100);  // an empty section: defaults
  std::vector<cfg::OptionDoc> docs = cfg::option_docs<Root>();
  BOOST_REQUIRE(docs.size() == 3u);
  BOOST_TEST(docs[0].key == "train.mode");
  BOOST_TEST(docs[0].allowed == "one of monitor, stop or off");
  BOOST_TEST(docs[1].key == "train.steps");
  BOOST_TEST(docs[2].key == "device");
}

namespace {
// A list of numbers (Perfusion's eval_beta_variants): integers are numbers, bounds hold per item.
struct Numbers {
  std::vector<double> betas{0.6, 0.75};
  template <class V>
  void fields(V& v) {
    v("betas", betas, "gate biases", cfg::between(0, 2));
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_list_of_numbers_reads_integers_as_numbers_and_checks_every_item) {
  BOOST_TEST((cfg::read_options<Numbers>(yaml("betas: [0.5, 1]\n"), "method").betas == std::vector<double>{0.5, 1.0}));
  BOOST_TEST((cfg::read_options<Numbers>(yaml("betas: []\n"), "method").betas.empty()));
  BOOST_TEST((cfg::options_node<Numbers>("numbers").find("betas")->items().at(1).as_double() == 0.75));
  for (const std::string bad : {"betas: [0.5, x]\n", "betas: [3]\n", "betas: 0.5\n"}) {
    std::string message;
    try {
      cfg::read_options<Numbers>(yaml(bad), "method");
    } catch (const pbench::InputError& e) {
      message = e.what();
    }
    BOOST_TEST(message.find("method.betas: expected a list of numbers in [0, 2]") != std::string::npos, message);
  }
  BOOST_TEST(cfg::option_docs<Numbers>()[0].type == "list of numbers");
}
