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
// std::vector<int64_t>, and std::optional of each (null in YAML). A `name` key
// (the registry selector) is accepted and skipped by the reader, and written
// first by options_node.
#include <cstdint>
#include <optional>
#include <string>
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
};
Allowed at_least(double v);
Allowed greater_than(double v);
Allowed between(double lo, double hi);                // [lo, hi]
Allowed one_of(std::vector<std::string> choices);
Allowed learning_rate();                              // finite and >= 0

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
template <class T>
std::string type_name(const std::optional<T>*) {
  return type_name(static_cast<const T*>(nullptr)) + " or null";
}
std::string describe_allowed(const Allowed& allowed);

// Visitors over a struct's fields(): read a section, write the defaults, list the docs.
class Reader {
 public:
  Reader(const Node& section, std::string path) : section_(section), path_(std::move(path)) {}
  template <class T>
  void operator()(const char* key, T& field, const char* help, const Allowed& allowed = {}) {
    keys_.emplace_back(key);
    if (const Node* v = section_.find(key)) read(*v, field, path_ + "." + key, allowed);
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
    out_.set(key, write(field));
  }

 private:
  Node& out_;
};

class Documenter {
 public:
  explicit Documenter(std::vector<OptionDoc>& out) : out_(out) {}
  template <class T>
  void operator()(const char* key, T& field, const char* help, const Allowed& allowed = {}) {
    out_.push_back(OptionDoc{key, type_name(&field), write(field), describe_allowed(allowed), help});
  }

 private:
  std::vector<OptionDoc>& out_;
};
}  // namespace detail

// `section` (a map, or null for all defaults) read into Options; `path` prefixes
// keys in messages ("method" → "method.rank"). Unknown keys are refused.
template <class Options>
Options read_options(const Node& section, const std::string& path) {
  Options o;
  if (section.is_null()) return o;
  detail::Reader reader(section, path);
  o.fields(reader);
  reader.reject_unknown_keys();
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
