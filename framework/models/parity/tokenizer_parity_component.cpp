#include "framework/models/parity/tokenizer_parity_component.hpp"

#include "framework/text/clip_tokenizer_parity.hpp"

namespace pbench::parity {

Component clip_tokenizer_parity_component() {
  Component c;
  c.name = "clip_tokenizer";
  c.help = "CLIP BPE tokenizer (vocab.json + merges.txt): every case's ids exact";
  c.run_folder = [](const std::filesystem::path& folder) {
    TokenizerParityResult result = check_tokenizer_cases(folder);
    Report report;
    report.component = "clip_tokenizer";
    report.pass = result.mismatches == 0 && result.cases > 0;
    for (const auto& field : result.fields) {
      OutputResult row;
      row.name = field.name;
      row.atol = 0.0;
      if (field.comparable) row.max_abs = double(field.max_abs_diff);
      row.pass = field.problem.empty();
      row.note = field.problem;
      report.outputs.push_back(row);
    }
    return report;
  };
  return c;
}

}  // namespace pbench::parity
