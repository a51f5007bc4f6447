#pragma once
// The configuration tree: a typed, ordered YAML value where every node knows
// where it came from (file and line, or the command-line override), so every
// error can name the file and the key. yaml-cpp nodes alias on assignment
// (TRAPS.md), so the tree is converted once at load time and all composition
// works on this value type.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pbench::cfg {

struct Origin {
  std::string source;  // a YAML path, or "command line 'a.b=v'"
  int line = 0;        // 1-based; 0 when not from a file
  std::string describe() const;  // "experiments/x.yaml:12" or the source alone
};

class Node {
 public:
  enum class Kind { Null, Bool, Int, Float, String, List, Map };

  Node() = default;
  static Node null(Origin o = {});
  static Node boolean(bool v, Origin o = {});
  static Node integer(int64_t v, Origin o = {});
  static Node real(double v, Origin o = {});
  static Node string(std::string v, Origin o = {});
  static Node list(Origin o = {});
  static Node map(Origin o = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_map() const { return kind_ == Kind::Map; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_scalar() const { return !is_map() && !is_list(); }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }
  double as_double() const { return kind_ == Kind::Int ? double(int_) : float_; }
  const std::string& as_string() const { return str_; }

  // Human text of a scalar as it would be written in YAML ("1e-05", "true").
  std::string scalar_text() const;
  // Short description for error messages: "'fast'", "a map", "a list".
  std::string describe_value() const;
  static const char* kind_name(Kind k);

  // Lists.
  std::vector<Node>& items() { return items_; }
  const std::vector<Node>& items() const { return items_; }
  void push_back(Node n) { items_.push_back(std::move(n)); }

  // Maps keep insertion order (so emitted YAML reads like the source).
  const std::vector<std::string>& keys() const { return keys_; }
  std::vector<Node>& values() { return items_; }
  const std::vector<Node>& values() const { return items_; }
  size_t size() const { return items_.size(); }
  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  Node& set(const std::string& key, Node value);  // insert or replace in place
  bool erase(std::string_view key);

  const Origin& origin() const { return origin_; }
  Origin& origin() { return origin_; }
  void set_origin_recursive(const Origin& o);

  // Structural equality of values (origins ignored; 1 and 1.0 differ).
  bool operator==(const Node& other) const;
  bool operator!=(const Node& other) const { return !(*this == other); }

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::string str_;
  std::vector<std::string> keys_;  // map keys, parallel to items_
  std::vector<Node> items_;        // list items or map values
  Origin origin_;
};

// Dotted key paths: "train.lr", "model.layers.0" (numeric segments index lists).
std::vector<std::string> split_path(std::string_view path);
std::string join_path(const std::vector<std::string>& parts);
const Node* lookup(const Node& root, std::string_view path);
Node* lookup(Node& root, std::string_view path);
// Sets `path` to `value`, creating intermediate maps when `create` is true.
// Returns false when a parent is missing (and create is false) or not a map.
bool assign(Node& root, std::string_view path, Node value, bool create);
bool remove(Node& root, std::string_view path);

// Deep merge: maps merge key by key, everything else (lists too) is replaced.
void merge_into(Node& base, const Node& overlay);

}  // namespace pbench::cfg
