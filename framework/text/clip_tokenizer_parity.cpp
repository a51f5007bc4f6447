#include "framework/text/clip_tokenizer_parity.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/text/clip_tokenizer.hpp"
#include "framework/util/errors.hpp"

namespace pbench {
namespace {

using nlohmann::json;

std::vector<int64_t> read_ids(const json& kase, const char* key, const std::string& where) {
  const json& value = kase.at(key);
  if (!value.is_array()) throw InputError(where + "." + key + ": expected an array of integers");
  std::vector<int64_t> ids;
  ids.reserve(value.size());
  for (const auto& id : value) {
    if (!id.is_number_integer()) throw InputError(where + "." + key + ": expected an array of integers");
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

// Empty when equal, else where they first differ.
std::string compare_ids(const char* key, const std::vector<int64_t>& got, const std::vector<int64_t>& expected) {
  if (got == expected) return "";
  if (got.size() != expected.size()) {
    return std::string(key) + " has " + std::to_string(got.size()) + " ids, expected " +
           std::to_string(expected.size());
  }
  size_t i = 0;
  while (got[i] == expected[i]) ++i;
  return std::string(key) + "[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", expected " +
         std::to_string(expected[i]);
}

std::string shorten(const std::string& text) {
  constexpr size_t kMax = 40;
  std::string out = text.size() <= kMax ? text : text.substr(0, kMax) + "...";
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

}  // namespace

TokenizerParityResult check_tokenizer_cases(const std::filesystem::path& folder) {
  const std::filesystem::path file = folder / "cases.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot be opened (expected {\"cases\": [...]})");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::exception& e) {
    std::string what = e.what();
    for (char& c : what) c = (c == '\n') ? ' ' : c;
    throw InputError(file.string() + ": not valid JSON (" + what + ")");
  }
  if (!doc.is_object() || !doc.contains("cases") || !doc.at("cases").is_array()) {
    throw InputError(file.string() + ": key 'cases' (expected an array of cases)");
  }

  const ClipTokenizer tokenizer = ClipTokenizer::from_folder(folder);
  TokenizerParityResult result;
  for (const json& kase : doc.at("cases")) {
    const std::string where = file.string() + ": cases[" + std::to_string(result.cases) + "]";
    if (!kase.is_object() || !kase.contains("text") || !kase.at("text").is_string() ||
        !kase.contains("input_ids")) {
      throw InputError(where + ": expected an object with 'text' (string) and 'input_ids'");
    }
    const std::string text = kase.at("text").get<std::string>();
    const TokenizedText encoded = tokenizer.encode(text);

    std::vector<std::string> problems;
    auto check = [&](const char* key, const std::vector<int64_t>& got) {
      std::vector<int64_t> expected = read_ids(kase, key, where);
      TokenizerFieldCheck field;
      field.name = "case" + std::to_string(result.cases) + "." + key;
      field.problem = compare_ids(key, got, expected);
      field.comparable = got.size() == expected.size();
      for (size_t i = 0; field.comparable && i < got.size(); ++i)
        field.max_abs_diff = std::max<int64_t>(field.max_abs_diff, std::llabs(got[i] - expected[i]));
      result.fields.push_back(field);
      problems.push_back(field.problem);
    };
    check("input_ids", encoded.input_ids);
    if (kase.contains("attention_mask")) check("attention_mask", encoded.attention_mask);
    if (kase.contains("bpe_ids")) check("bpe_ids", tokenizer.tokenize_ids(text));
    std::string report;
    for (const auto& problem : problems) {
      if (problem.empty()) continue;
      report += report.empty() ? "" : "; ";
      report += problem;
    }
    if (!report.empty()) {
      ++result.mismatches;
      if (static_cast<int>(result.first_failures.size()) < TokenizerParityResult::kMaxReportedFailures) {
        result.first_failures.push_back("case " + std::to_string(result.cases) + " '" + shorten(text) +
                                        "': " + report);
      }
    }
    ++result.cases;
  }
  return result;
}

}  // namespace pbench
