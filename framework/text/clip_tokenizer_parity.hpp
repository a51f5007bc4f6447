#pragma once
// Parity check of ClipTokenizer against a clip_tokenizer reference folder
// (../shared/INTERFACES.md): the folder is loaded as a user's tokenizer is,
// and every case of cases.json is encoded and compared exactly.
#include <filesystem>
#include <string>
#include <vector>

namespace pbench {

// One compared field of one case ("case3.input_ids").
struct TokenizerFieldCheck {
  std::string name;
  bool comparable = true;    // false when the lengths differ
  int64_t max_abs_diff = 0;  // over positions, when comparable
  std::string problem;       // empty when equal
};

struct TokenizerParityResult {
  std::vector<TokenizerFieldCheck> fields;
  int cases = 0;
  int mismatches = 0;                       // cases with any differing field
  std::vector<std::string> first_failures;  // one line each, at most kMaxReportedFailures
  static constexpr int kMaxReportedFailures = 10;
};

// Compares input_ids (required) and, where a case has them, attention_mask
// and bpe_ids (untruncated ids without specials). InputError naming
// cases.json and the case/key when the file is malformed.
TokenizerParityResult check_tokenizer_cases(const std::filesystem::path& folder);

}  // namespace pbench
