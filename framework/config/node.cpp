#include "framework/config/node.hpp"

#include <charconv>
#include <cmath>

namespace pbench::cfg {

std::string Origin::describe() const {
  if (line > 0) return source + ":" + std::to_string(line);
  return source.empty() ? std::string("<built-in>") : source;
}

Node Node::null(Origin o) {
  Node n;
  n.origin_ = std::move(o);
  return n;
}
Node Node::boolean(bool v, Origin o) {
  Node n = null(std::move(o));
  n.kind_ = Kind::Bool;
  n.bool_ = v;
  return n;
}
Node Node::integer(int64_t v, Origin o) {
  Node n = null(std::move(o));
  n.kind_ = Kind::Int;
  n.int_ = v;
  return n;
}
Node Node::real(double v, Origin o) {
  Node n = null(std::move(o));
  n.kind_ = Kind::Float;
  n.float_ = v;
  return n;
}
Node Node::string(std::string v, Origin o) {
  Node n = null(std::move(o));
  n.kind_ = Kind::String;
  n.str_ = std::move(v);
  return n;
}
Node Node::list(Origin o) {
  Node n = null(std::move(o));
  n.kind_ = Kind::List;
  return n;
}
Node Node::map(Origin o) {
  Node n = null(std::move(o));
  n.kind_ = Kind::Map;
  return n;
}

namespace {
// Shortest text that reads back as the same double, always recognisable as a
// float ("1.0", not "1").
std::string format_double(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  // Always with a '.' in the mantissa ("1.0e-05", not "1e-05"): YAML 1.1
  // readers such as PyYAML read a float only in that form.
  size_t e = s.find('e');
  if (s.find('.') == std::string::npos) s.insert(e == std::string::npos ? s.size() : e, ".0");
  return s;
}
}  // namespace

std::string Node::scalar_text() const {
  switch (kind_) {
    case Kind::Null: return "null";
    case Kind::Bool: return bool_ ? "true" : "false";
    case Kind::Int: return std::to_string(int_);
    case Kind::Float: return format_double(float_);
    case Kind::String: return str_;
    case Kind::List: return "[list]";
    case Kind::Map: return "{map}";
  }
  return "";
}

const char* Node::kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Bool: return "a boolean";
    case Kind::Int: return "an integer";
    case Kind::Float: return "a number";
    case Kind::String: return "a string";
    case Kind::List: return "a list";
    case Kind::Map: return "a map";
  }
  return "?";
}

std::string Node::describe_value() const {
  if (kind_ == Kind::List) return "a list";
  if (kind_ == Kind::Map) return "a map";
  if (kind_ == Kind::Null) return "null";
  return "'" + scalar_text() + "'";
}

const Node* Node::find(std::string_view key) const {
  if (kind_ != Kind::Map) return nullptr;
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] == key) return &items_[i];
  return nullptr;
}

Node* Node::find(std::string_view key) {
  return const_cast<Node*>(static_cast<const Node*>(this)->find(key));
}

Node& Node::set(const std::string& key, Node value) {
  if (kind_ != Kind::Map) {
    kind_ = Kind::Map;
    keys_.clear();
    items_.clear();
  }
  if (Node* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  keys_.push_back(key);
  items_.push_back(std::move(value));
  return items_.back();
}

bool Node::erase(std::string_view key) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) {
      keys_.erase(keys_.begin() + long(i));
      items_.erase(items_.begin() + long(i));
      return true;
    }
  }
  return false;
}

void Node::set_origin_recursive(const Origin& o) {
  origin_ = o;
  for (Node& child : items_) child.set_origin_recursive(o);
}

bool Node::operator==(const Node& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Null: return true;
    case Kind::Bool: return bool_ == other.bool_;
    case Kind::Int: return int_ == other.int_;
    case Kind::Float: return float_ == other.float_ || (std::isnan(float_) && std::isnan(other.float_));
    case Kind::String: return str_ == other.str_;
    case Kind::List: return items_ == other.items_;
    case Kind::Map:
      if (keys_.size() != other.keys_.size()) return false;
      for (size_t i = 0; i < keys_.size(); ++i) {
        const Node* o = other.find(keys_[i]);
        if (!o || !(*o == items_[i])) return false;
      }
      return true;
  }
  return false;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    parts.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

std::string join_path(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '.';
    out += parts[i];
  }
  return out;
}

namespace {
bool parse_index(const std::string& s, size_t& out) {
  if (s.empty()) return false;
  auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

Node* child(Node& n, const std::string& key) {
  if (n.is_map()) return n.find(key);
  size_t idx;
  if (n.is_list() && parse_index(key, idx) && idx < n.items().size()) return &n.items()[idx];
  return nullptr;
}
}  // namespace

const Node* lookup(const Node& root, std::string_view path) {
  return lookup(const_cast<Node&>(root), path);
}

Node* lookup(Node& root, std::string_view path) {
  if (path.empty()) return &root;
  Node* cur = &root;
  for (const std::string& part : split_path(path)) {
    cur = child(*cur, part);
    if (!cur) return nullptr;
  }
  return cur;
}

bool assign(Node& root, std::string_view path, Node value, bool create) {
  auto parts = split_path(path);
  Node* cur = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    Node* next = child(*cur, parts[i]);
    if (!next) {
      if (!create || !cur->is_map()) return false;
      next = &cur->set(parts[i], Node::map(value.origin()));
    }
    cur = next;
  }
  const std::string& last = parts.back();
  if (cur->is_list()) {
    size_t idx;
    if (!parse_index(last, idx) || idx >= cur->items().size()) return false;
    cur->items()[idx] = std::move(value);
    return true;
  }
  if (!cur->is_map()) {
    if (!create || !cur->is_null()) return false;
  }
  cur->set(last, std::move(value));
  return true;
}

bool remove(Node& root, std::string_view path) {
  auto parts = split_path(path);
  std::string last = parts.back();
  parts.pop_back();
  Node* parent = lookup(root, join_path(parts));
  if (parts.empty()) parent = &root;
  if (!parent) return false;
  if (parent->is_map()) return parent->erase(last);
  size_t idx;
  if (parent->is_list() && parse_index(last, idx) && idx < parent->items().size()) {
    parent->items().erase(parent->items().begin() + long(idx));
    return true;
  }
  return false;
}

void merge_into(Node& base, const Node& overlay) {
  if (base.is_map() && overlay.is_map()) {
    for (size_t i = 0; i < overlay.keys().size(); ++i) {
      const std::string& key = overlay.keys()[i];
      Node* existing = base.find(key);
      if (existing && existing->is_map() && overlay.values()[i].is_map()) {
        merge_into(*existing, overlay.values()[i]);
      } else {
        base.set(key, overlay.values()[i]);
      }
    }
    return;
  }
  base = overlay;
}

}  // namespace pbench::cfg
