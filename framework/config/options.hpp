#pragma once
// Typed option tables: one declaration per key — its C++ type, its default (the
// member initializer), one line of help and the values it allows — from which
// come the defaults node, the validation of a user's section (file:line errors)
// and the help table. The style is LibTorch's torch::nn::LinearOptions (one
// TORCH_ARG per argument) with a visitor instead of a macro, so a struct stays
// a plain struct the code reads as `opt.rank`:
//
//   struct LoraOptions {
//     int64_t rank = 4;
//     std::optional<double> lr = 1e-4;
//     template <class V> void fields(V& v) {
//       v("rank", rank, "rank r of the update B·A", cfg::at_least(1));
//       v("lr", lr, "learning rate of the factors; null = train.lr", cfg::learning_rate());
//     }
//   };
//   LoraOptions o = cfg::read_options<LoraOptions>(section, "method");   // typed, checked
//   cfg::Node d = cfg::options_node<LoraOptions>("lora");                 // name: lora, rank: 4, …
//
// Field types: bool, int64_t, double, std::string, std::vector<std::string>,
// std::vector<int64_t>, std::vector<double>, std::optional of each (null in YAML), an enum that
// declares its names (below), and a struct with its own fields() (a nested
// section: `train:` of a run config). A `name` key (the registry selector) is
// accepted and skipped by the reader, and written first by options_node.
//
// An enum field reads and writes its names, declared once beside the enum and
// found by argument-dependent lookup:
//
//   enum class StopMode { monitor, stop, off };
//   inline const cfg::EnumNames<StopMode>& enum_names(StopMode) {
//     static const cfg::EnumNames<StopMode> names{{StopMode::monitor, "monitor"}, …};
//     return names;
//   }
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "framework/config/node.hpp"

namespace pbench::cfg {

// The values an option allows: numeric bounds (each inclusive unless marked
// open) or a closed set of strings. Every number must be finite.
struct Allowed {
  std::optional<double> min, max;
  bool min_open = false, max_open = false;
  std::vector<std::string> choices;
  std::string noun;  // what the value is called in messages ("learning rate"); default from the type
  // The whole "expected …" phrase of messages when the bounds' wording is not the
  // clearest ("a positive integer"); empty: built from noun and bounds.
  std::string expected;
};
Allowed at_least(double v);
Allowed positive();                                   // an integer >= 1, "a positive integer"
Allowed greater_than(double v);
Allowed between(double lo, double hi);                // [lo, hi]
Allowed one_of(std::vector<std::string> choices);
Allowed learning_rate();                              // finite and >= 0
// `a` with its message phrase replaced ("a number in [0, 1)").
Allowed described(Allowed a, std::string expected);

template <class E>
using EnumNames = std::vector<std::pair<E, std::string>>;
// The name of an enum value (its enum_names entry), for logs and run files.
template <class E>
const std::string& enum_name(E value) {
  for (const auto& [v, name] : enum_names(value))
    if (v == value) return name;
  static const std::string unknown = "?";
  return unknown;
}

// One row of a help table (`pbench methods <name>`).
struct OptionDoc {
  std::string key;
  std::string type;     // "integer", "number or null", "list of strings", …
  Node default_value;
  std::string allowed;  // ">= 1", "one of relu, gelu", "" when any value of the type
  std::string help;
};

namespace detail {
// Reads `value` into `out` or throws InputError "<file:line>: <where>: expected …, got …".
void read(const Node& value, bool& out, const std::string& where, const Allowed& allowed);
void read(const Node& value, int64_t& out, const std::string& where, const Allowed& allowed);
void read(const Node& value, double& out, const std::string& where, const Allowed& allowed);
void read(const Node& value, std::string& out, const std::string& where, const Allowed& allowed);
void read(const Node& value, std::vector<std::string>& out, const std::string& where, const Allowed& allowed);
void read(const Node& value, std::vector<int64_t>& out, const std::string& where, const Allowed& allowed);
void read(const Node& value, std::vector<double>& out, const std::string& where, const Allowed& allowed);
// InputError "<file:line>: <where>: expected <expected>, got <value>".
[[noreturn]] void fail_expected(const Node& value, const std::string& where, const std::string& expected);
// InputError "<file:line>: <where>: expected a, b or c, got …".
[[noreturn]] void fail_choices(const Node& value, const std::string& where, const std::vector<std::string>& choices);
template <class E>
std::vector<std::string> names_of() {
  std::vector<std::string> out;
  for (const auto& entry : enum_names(E{})) out.push_back(entry.second);
  return out;
}
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
void read(const Node& value, E& out, const std::string& where, const Allowed&) {
  if (value.kind() == Node::Kind::String)
    for (const auto& [v, name] : enum_names(E{}))
      if (name == value.as_string()) {
        out = v;
        return;
      }
  fail_choices(value, where, names_of<E>());
}
template <class T>
void read(const Node& value, std::optional<T>& out, const std::string& where, const Allowed& allowed) {
  if (value.is_null()) {
    out.reset();
    return;
  }
  T v{};
  read(value, v, where, allowed);
  out = std::move(v);
}

Node write(bool v);
Node write(int64_t v);
Node write(double v);
Node write(const std::string& v);
Node write(const std::vector<std::string>& v);
Node write(const std::vector<int64_t>& v);
Node write(const std::vector<double>& v);
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
Node write(E v) {
  return Node::string(enum_name(v));
}
template <class T>
Node write(const std::optional<T>& v) {
  return v ? write(*v) : Node::null();
}

std::string type_name(const bool*);
std::string type_name(const int64_t*);
std::string type_name(const double*);
std::string type_name(const std::string*);
std::string type_name(const std::vector<std::string>*);
std::string type_name(const std::vector<int64_t>*);
std::string type_name(const std::vector<double>*);
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
std::string type_name(const E*) {
  return "string";
}
template <class T>
std::string type_name(const std::optional<T>*) {
  return type_name(static_cast<const T*>(nullptr)) + " or null";
}
std::string describe_allowed(const Allowed& allowed);
// The allowed values of a field for its help line: an enum's are its names.
template <class T>
Allowed allowed_for(const T&, const Allowed& allowed) {
  if constexpr (std::is_enum_v<T>) return one_of(names_of<T>());
  return allowed;
}

// A field whose type declares its own fields() is a nested section.
template <class T, class = void>
struct is_section : std::false_type {};
template <class T>
struct is_section<T, std::void_t<decltype(std::declval<T&>().template fields<int>(std::declval<int&>()))>>
    : std::true_type {};
// "train" + "steps" -> "train.steps"; at the root (path "") the key alone.
std::string child_path(const std::string& path, const char* key);

template <class Options>
void read_fields(Options& o, const Node& section, const std::string& path, bool refuse_unknown);

// Visitors over a struct's fields(): read a section, write the defaults, list the docs.
class Reader {
 public:
  Reader(const Node& section, std::string path) : section_(section), path_(std::move(path)) {}
  template <class T>
  void operator()(const char* key, T& field, const char* help, const Allowed& allowed = {}) {
    keys_.emplace_back(key);
    const Node* v = section_.find(key);
    if (!v) return;
    if constexpr (is_section<T>::value) {
      if (!v->is_null() && !v->is_map()) fail_expected(*v, child_path(path_, key), "a map");
      read_fields(field, *v, child_path(path_, key), /*refuse_unknown=*/true);  // null: the defaults
    } else {
      read(*v, field, child_path(path_, key), allowed);
    }
  }
  // InputError naming the first key of the section no field declared, and the known keys.
  void reject_unknown_keys() const;

 private:
  const Node& section_;
  std::string path_;
  std::vector<std::string> keys_;
};

class Writer {
 public:
  explicit Writer(Node& out) : out_(out) {}
  template <class T>
  void operator()(const char* key, T& field, const char* help, const Allowed& allowed = {}) {
    if constexpr (is_section<T>::value) {
      Node nested = Node::map();
      Writer writer(nested);
      field.fields(writer);
      out_.set(key, std::move(nested));
    } else {
      out_.set(key, write(field));
    }
  }

 private:
  Node& out_;
};

class Documenter {
 public:
  explicit Documenter(std::vector<OptionDoc>& out, std::string path = "") : out_(out), path_(std::move(path)) {}
  template <class T>
  void operator()(const char* key, T& field, const char* help, const Allowed& allowed = {}) {
    if constexpr (is_section<T>::value) {
      Documenter nested(out_, child_path(path_, key));  // one row per leaf: "train.steps"
      field.fields(nested);
    } else {
      out_.push_back(OptionDoc{child_path(path_, key), type_name(&field), write(field),
                               describe_allowed(allowed_for(field, allowed)), help});
    }
  }

 private:
  std::vector<OptionDoc>& out_;
  std::string path_;
};
// The keys `section` sets read into `o` (null: nothing set), optionally refusing the
// keys no field declares.
template <class Options>
void read_fields(Options& o, const Node& section, const std::string& path, bool refuse_unknown) {
  if (section.is_null()) return;
  Reader reader(section, path);
  o.fields(reader);
  if (refuse_unknown) reader.reject_unknown_keys();
}
}  // namespace detail

// `section` (a map, or null for all defaults) read into Options; `path` prefixes
// keys in messages ("method" → "method.rank"). Unknown keys are refused.
template <class Options>
Options read_options(const Node& section, const std::string& path) {
  Options o;
  detail::read_fields(o, section, path, /*refuse_unknown=*/true);
  return o;
}

// The keys Options declares, read from `section` (a run config's root); other keys
// are left to whoever owns them (workload, seed, method, …). Nested sections still
// refuse unknown keys.
template <class Options>
Options read_declared_options(const Node& section, const std::string& path = "") {
  Options o;
  detail::read_fields(o, section, path, /*refuse_unknown=*/false);
  return o;
}

// The defaults as a config section: `name: <name>` (when given) then every field.
template <class Options>
Node options_node(const std::string& name = "") {
  Options o;
  Node out = Node::map();
  if (!name.empty()) out.set("name", Node::string(name));
  detail::Writer writer(out);
  o.fields(writer);
  return out;
}

template <class Options>
std::vector<OptionDoc> option_docs() {
  Options o;
  std::vector<OptionDoc> out;
  detail::Documenter documenter(out);
  o.fields(documenter);
  return out;
}

// The help table: one block per option ("  rank: 4   (integer >= 1)\n      help\n").
std::string format_option_docs(const std::vector<OptionDoc>& docs);

}  // namespace pbench::cfg
