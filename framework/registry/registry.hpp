#pragma once
// Explicit registry tables (name -> factory, one-line help, default config).
// Each kind (methods, metrics, datasets, models, workloads) owns one Registry
// filled by an explicit list of register_* calls; static self-registration is
// avoided on purpose (static libraries drop unreferenced objects, TRAPS.md).
#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "framework/config/node.hpp"

namespace pbench {

struct EntryInfo {
  std::string name;
  std::string help;  // one line, shown by `run_sweep --list`
  // The entry's config section with every key it accepts and its default, built once
  // at registration (from a typed options struct, or yaml_defaults); null: no section.
  cfg::Node defaults;
};

// Throws InputError "<where>: unknown <kind> '<name>'; registered: a, b, c".
[[noreturn]] void throw_unknown_entry(const std::string& kind, const std::string& name, const std::string& where,
                                      const std::vector<std::string>& names);
// An entry's defaults written as YAML text (registrations without an options struct).
cfg::Node yaml_defaults(const std::string& text);

template <class Factory>
class Registry {
 public:
  struct Entry {
    EntryInfo info;
    Factory factory;
  };

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  void add(EntryInfo info, Factory factory) {
    if (find(info.name)) throw std::logic_error(kind_ + " '" + info.name + "' registered twice");
    // Errors about a default's value name whose default it is.
    info.defaults.set_origin_recursive(cfg::Origin{"built-in defaults of " + kind_ + " '" + info.name + "'", 0});
    entries_.push_back(Entry{std::move(info), std::move(factory)});
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.info.name < b.info.name; });
  }

  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.info.name == name) return &e;
    return nullptr;
  }

  const Entry& get(const std::string& name, const std::string& where) const {
    if (const Entry* e = find(name)) return *e;
    throw_unknown_entry(kind_, name, where, names());
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.info.name);
    return out;
  }

  std::vector<EntryInfo> infos() const {
    std::vector<EntryInfo> out;
    for (const auto& e : entries_) out.push_back(e.info);
    return out;
  }

  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::vector<Entry> entries_;
};

// What `run_sweep --list` prints: every registry kind with its entries.
struct CatalogSection {
  std::string kind;  // "methods", "metrics", ...
  std::vector<EntryInfo> entries;
};

}  // namespace pbench
