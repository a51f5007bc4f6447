#pragma once
// Interpolation and the last checks before a config becomes a run:
//   ${a.b}         the value at a.b (typed when the string is only the reference)
//   ${.sibling}    relative to the map holding the string (${..x} one level up)
//   ${oc.env:NAME} / ${oc.env:NAME,default}   an environment variable
//   \${...}        a literal "${...}"
//   ???            a mandatory value that must be set before a run starts
#include <string>
#include <vector>

#include "framework/config/node.hpp"

namespace pbench::cfg {

Node resolve(const Node& config);

// Paths of keys whose value is still the mandatory marker '???'.
std::vector<std::string> missing_values(const Node& config);
// Throws InputError naming the first missing key, its file, and how to set it.
void require_no_missing(const Node& config);

// Run id (INTERFACES.md): first 16 hex digits of SHA-256 over the canonical
// JSON of the resolved run config without the keys that must not change
// results (the `runtime` section: threads, output paths).
std::string run_id(const Node& resolved);
// The canonical JSON that run_id hashes (for docs, tests and debugging).
std::string run_id_payload(const Node& resolved);
// True for 16 lower-case hex digits, the form of a run id (e.g. a run file's stem).
bool looks_like_run_id(const std::string& s);

}  // namespace pbench::cfg
