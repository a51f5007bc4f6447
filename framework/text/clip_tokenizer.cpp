#include "framework/text/clip_tokenizer.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "framework/text/byte_unicode.hpp"
#include "framework/text/clip_pretokenizer.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

namespace fs = std::filesystem;
using nlohmann::json;

struct ClipTokenizer::Model {
  std::unordered_map<std::string, int64_t> vocab;
  std::unordered_map<std::string, int> merge_ranks;  // key: "left right" (' ' never occurs in a symbol)
  text::ClipPreTokenizer pre_tokenizer;
};

struct ClipTokenizer::BpeCache {
  // Prompts repeat the same few hundred words; unbounded growth is still
  // avoided for long-running processes fed arbitrary text.
  static constexpr size_t kMaxEntries = 100000;
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int64_t>> ids;
};

namespace {

// SD v1 values used when a folder has no tokenizer_config.json.
constexpr int64_t kDefaultMaxLength = 77;
const char* const kStartOfText = "<|startoftext|>";
const char* const kEndOfText = "<|endoftext|>";
// HF writes int(1e30) as model_max_length for "no limit"; such values mean "unset".
constexpr double kNoLimitThreshold = 1e6;

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

json read_json(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot be opened (expected a readable JSON file)");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(file.string() + ": not valid JSON (" + one_line(e.what()) + ")");
  }
}

std::unordered_map<std::string, int64_t> read_vocab(const fs::path& file) {
  const json doc = read_json(file);
  if (!doc.is_object() || doc.empty()) {
    throw InputError(file.string() + ": expected a non-empty JSON object of token -> id");
  }
  std::unordered_map<std::string, int64_t> vocab;
  vocab.reserve(doc.size());
  std::vector<char> seen(doc.size(), 0);
  for (const auto& [token, id] : doc.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      throw InputError(file.string() + ": token '" + token + "' has id " + one_line(id.dump()) +
                       " (expected a non-negative integer)");
    }
    const int64_t value = id.get<int64_t>();
    // Embedding rows are indexed by id: the ids must be exactly 0..n-1.
    if (value >= static_cast<int64_t>(doc.size()) || seen[static_cast<size_t>(value)]) {
      throw InputError(file.string() + ": token '" + token + "' has id " + std::to_string(value) +
                       " (expected ids 0.." + std::to_string(doc.size() - 1) + ", each once)");
    }
    seen[static_cast<size_t>(value)] = 1;
    vocab.emplace(token, value);
  }
  return vocab;
}

std::unordered_map<std::string, int> read_merges(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string() + ": cannot be opened (expected 'left right' lines)");
  std::unordered_map<std::string, int> ranks;
  std::string line;
  int line_number = 0;
  int rank = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // The first line is the "#version: 0.2" header, which both references skip.
    if (line_number == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string left, right, extra;
    if (!(fields >> left >> right) || (fields >> extra)) {
      throw InputError(file.string() + ": line " + std::to_string(line_number) +
                       " is '" + line + "' (expected two symbols 'left right')");
    }
    // A repeated pair keeps its last rank, as dict(zip(merges, range(...))) does.
    ranks[left + ' ' + right] = rank++;
  }
  if (ranks.empty()) throw InputError(file.string() + ": no merges (expected 'left right' lines)");
  return ranks;
}

struct TokenSettings {
  std::string bos = kStartOfText, eos = kEndOfText, pad = kEndOfText, unk = kEndOfText;
  int64_t max_length = kDefaultMaxLength;
};

// A special token is written either as a string or, by older transformers,
// as an AddedToken object {"content": ..., ...}. null keeps the default.
void read_token_setting(const json& doc, const char* key, const fs::path& file, std::string& out) {
  if (!doc.contains(key) || doc.at(key).is_null()) return;
  const json& value = doc.at(key);
  if (value.is_string()) {
    out = value.get<std::string>();
  } else if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    out = value.at("content").get<std::string>();
  } else {
    throw InputError(file.string() + ": key '" + key + "' is " + one_line(value.dump()) +
                     " (expected a token string or {\"content\": string})");
  }
}

void read_settings(const fs::path& file, TokenSettings& settings) {
  if (!fs::exists(file)) return;
  const json doc = read_json(file);
  if (!doc.is_object()) throw InputError(file.string() + ": expected a JSON object");
  read_token_setting(doc, "bos_token", file, settings.bos);
  read_token_setting(doc, "eos_token", file, settings.eos);
  read_token_setting(doc, "pad_token", file, settings.pad);
  read_token_setting(doc, "unk_token", file, settings.unk);
  if (doc.contains("model_max_length") && !doc.at("model_max_length").is_null()) {
    const json& value = doc.at("model_max_length");
    if (!value.is_number()) {
      throw InputError(file.string() + ": key 'model_max_length' is " + one_line(value.dump()) +
                       " (expected an integer >= 2)");
    }
    const double length = value.get<double>();
    if (length < kNoLimitThreshold) {
      if (!value.is_number_integer() || value.get<int64_t>() < 2) {
        throw InputError(file.string() + ": key 'model_max_length' is " + one_line(value.dump()) +
                         " (expected an integer >= 2: room for SOT and EOT)");
      }
      settings.max_length = value.get<int64_t>();
    }
  }
}

// Tokens a transformers save_pretrained() wrote next to the vocab:
// added_tokens.json {token: id} and tokenizer_config.json's
// added_tokens_decoder {"id": {"content": token}}. Ids inside vocab.json are
// the specials and must agree; the rest become added tokens in id order.
std::map<int64_t, std::string> read_saved_added_tokens(const fs::path& folder,
                                                       const std::unordered_map<std::string, int64_t>& vocab) {
  std::map<int64_t, std::string> added;
  auto record = [&](const fs::path& file, const std::string& token, int64_t id) {
    auto in_vocab = vocab.find(token);
    if (in_vocab != vocab.end()) {
      if (in_vocab->second != id) {
        throw InputError(file.string() + ": token '" + token + "' has id " + std::to_string(id) +
                         " (expected its vocab.json id " + std::to_string(in_vocab->second) + ")");
      }
      return;
    }
    auto [it, inserted] = added.emplace(id, token);
    if (!inserted && it->second != token) {
      throw InputError(file.string() + ": id " + std::to_string(id) + " is given to both '" +
                       it->second + "' and '" + token + "' (expected one token per id)");
    }
  };
  const fs::path added_file = folder / "added_tokens.json";
  if (fs::exists(added_file)) {
    const json doc = read_json(added_file);
    if (!doc.is_object()) throw InputError(added_file.string() + ": expected a JSON object of token -> id");
    for (const auto& [token, id] : doc.items()) {
      if (!id.is_number_integer()) {
        throw InputError(added_file.string() + ": token '" + token + "' has id " +
                         one_line(id.dump()) + " (expected an integer)");
      }
      record(added_file, token, id.get<int64_t>());
    }
  }
  const fs::path config_file = folder / "tokenizer_config.json";
  if (fs::exists(config_file)) {
    const json doc = read_json(config_file);
    if (doc.is_object() && doc.contains("added_tokens_decoder")) {
      const json& decoder = doc.at("added_tokens_decoder");
      if (!decoder.is_object()) {
        throw InputError(config_file.string() + ": key 'added_tokens_decoder' is not an object");
      }
      for (const auto& [id_text, entry] : decoder.items()) {
        int64_t id = -1;
        try {
          size_t used = 0;
          id = std::stoll(id_text, &used);
          if (used != id_text.size()) id = -1;
        } catch (const std::exception&) {
          id = -1;
        }
        if (id < 0 || !entry.is_object() || !entry.contains("content") || !entry.at("content").is_string()) {
          throw InputError(config_file.string() + ": added_tokens_decoder entry '" + id_text +
                           "' (expected \"<id>\": {\"content\": string})");
        }
        record(config_file, entry.at("content").get<std::string>(), id);
      }
    }
  }
  return added;
}

}  // namespace

ClipTokenizer ClipTokenizer::from_folder(const fs::path& folder) {
  if (!fs::is_directory(folder)) {
    throw InputError(folder.string() + ": not a directory (expected a tokenizer folder with vocab.json and merges.txt)");
  }
  for (const char* name : {"vocab.json", "merges.txt"}) {
    if (!fs::exists(folder / name)) {
      throw InputError((folder / name).string() + ": missing (expected a CLIP tokenizer file)");
    }
  }
  auto model = std::make_shared<Model>();
  model->vocab = read_vocab(folder / "vocab.json");
  model->merge_ranks = read_merges(folder / "merges.txt");

  TokenSettings settings;
  read_settings(folder / "tokenizer_config.json", settings);
  // transformers lets special_tokens_map.json override the config's values.
  read_settings(folder / "special_tokens_map.json", settings);

  ClipTokenizer tokenizer;
  tokenizer.model_ = model;
  tokenizer.cache_ = std::make_shared<BpeCache>();
  tokenizer.max_length_ = settings.max_length;

  for (const auto& [id, token] : read_saved_added_tokens(folder, model->vocab)) {
    if (id != tokenizer.vocab_size()) {
      throw InputError(folder.string() + ": saved added token '" + token + "' has id " +
                       std::to_string(id) + " (expected the next free id " +
                       std::to_string(tokenizer.vocab_size()) + ")");
    }
    tokenizer.add_token(token);
  }

  auto special_id = [&](const std::string& token, const char* key) {
    auto it = model->vocab.find(token);
    if (it != model->vocab.end()) return it->second;
    for (const auto& [added, id] : tokenizer.added_tokens_) {
      if (added == token) return id;
    }
    throw InputError(folder.string() + ": " + key + " '" + token +
                     "' of tokenizer_config.json/special_tokens_map.json is not in vocab.json (expected a vocabulary token)");
  };
  tokenizer.bos_id_ = special_id(settings.bos, "bos_token");
  tokenizer.eos_id_ = special_id(settings.eos, "eos_token");
  tokenizer.pad_id_ = special_id(settings.pad, "pad_token");
  tokenizer.unk_id_ = special_id(settings.unk, "unk_token");
  return tokenizer;
}

void ClipTokenizer::append_word_ids(const std::string& word, std::vector<int64_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto hit = cache_->ids.find(word);
    if (hit != cache_->ids.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  const auto& vocab = model_->vocab;
  auto lookup = [&](const std::string& symbol) {
    auto it = vocab.find(symbol);
    return it == vocab.end() ? unk_id_ : it->second;  // HF maps unknown symbols to unk
  };

  std::vector<int64_t> ids;
  if (word == kStartOfText || word == kEndOfText) {
    // The reference seeds its BPE cache with these two: never split, no </w>.
    ids.push_back(lookup(word));
  } else {
    // One symbol per byte in the byte-level alphabet; the last carries </w>.
    const auto& byte_table = text::byte_symbols();
    std::vector<std::string> symbols;
    symbols.reserve(word.size());
    for (unsigned char b : word) symbols.push_back(byte_table[b]);
    symbols.back() += "</w>";

    // Repeatedly merge the adjacent pair with the lowest rank, every
    // non-overlapping occurrence left to right, until no pair has a rank.
    std::string key;
    while (symbols.size() > 1) {
      int best_rank = INT_MAX;
      size_t best = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        key.assign(symbols[i]).append(1, ' ').append(symbols[i + 1]);
        auto it = model_->merge_ranks.find(key);
        if (it != model_->merge_ranks.end() && it->second < best_rank) {
          best_rank = it->second;
          best = i;
        }
      }
      if (best_rank == INT_MAX) break;
      const std::string first = symbols[best];
      const std::string second = symbols[best + 1];
      std::vector<std::string> merged;
      merged.reserve(symbols.size());
      for (size_t i = 0; i < symbols.size();) {
        if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(std::move(symbols[i]));
          i += 1;
        }
      }
      symbols = std::move(merged);
    }
    ids.reserve(symbols.size());
    for (const auto& symbol : symbols) ids.push_back(lookup(symbol));
  }
  out.insert(out.end(), ids.begin(), ids.end());

  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->ids.size() >= BpeCache::kMaxEntries) cache_->ids.clear();
  cache_->ids.emplace(word, std::move(ids));
}

void ClipTokenizer::append_chunk_ids(const std::string& chunk, std::vector<int64_t>& out) const {
  if (chunk.empty()) return;
  for (const auto& word : model_->pre_tokenizer.words(chunk)) append_word_ids(word, out);
}

std::vector<int64_t> ClipTokenizer::tokenize_ids(const std::string& text) const {
  std::vector<int64_t> out;
  // Added tokens are cut out of the raw text first (leftmost, longest on a
  // tie), so clean-up, lower-casing and the regex never see them; the pieces
  // between them are tokenized as separate texts.
  size_t piece_start = 0;
  size_t i = 0;
  while (!added_tokens_.empty() && i < text.size()) {
    const std::pair<std::string, int64_t>* match = nullptr;
    for (const auto& added : added_tokens_) {
      if ((!match || added.first.size() > match->first.size()) &&
          text.compare(i, added.first.size(), added.first) == 0) {
        match = &added;
      }
    }
    if (!match) {
      ++i;
      continue;
    }
    append_chunk_ids(text.substr(piece_start, i - piece_start), out);
    out.push_back(match->second);
    i += match->first.size();
    piece_start = i;
  }
  append_chunk_ids(text.substr(piece_start), out);
  return out;
}

TokenizedText ClipTokenizer::encode(const std::string& text) const {
  const std::vector<int64_t> ids = tokenize_ids(text);
  const size_t length = static_cast<size_t>(max_length_);
  const size_t kept = std::min(ids.size(), length - 2);  // EOT always survives truncation
  TokenizedText out;
  out.input_ids.reserve(length);
  out.input_ids.push_back(bos_id_);
  out.input_ids.insert(out.input_ids.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kept));
  out.input_ids.push_back(eos_id_);
  out.attention_mask.assign(out.input_ids.size(), 1);
  out.input_ids.resize(length, pad_id_);
  out.attention_mask.resize(length, 0);
  return out;
}

int64_t ClipTokenizer::add_token(const std::string& token) {
  if (token.empty()) throw InputError("tokenizer: add_token('') (expected a non-empty placeholder)");
  if (model_->vocab.count(token)) {
    throw InputError("tokenizer: add_token('" + token +
                     "') names a vocab.json entry (expected a placeholder that is not in the vocabulary)");
  }
  for (const auto& [added, id] : added_tokens_) {
    if (added == token) return id;
  }
  const int64_t id = vocab_size();
  added_tokens_.emplace_back(token, id);
  return id;
}

int64_t ClipTokenizer::token_id(const std::string& token) const {
  auto it = model_->vocab.find(token);
  if (it != model_->vocab.end()) return it->second;
  for (const auto& [added, id] : added_tokens_) {
    if (added == token) return id;
  }
  throw InputError("tokenizer: token '" + token + "' is unknown (expected a vocab.json entry or an added token)");
}

int64_t ClipTokenizer::vocab_size() const {
  return static_cast<int64_t>(model_->vocab.size() + added_tokens_.size());
}

int64_t ClipTokenizer::first_eot_position(const std::vector<int64_t>& ids, int64_t eos_id) {
  auto it = std::find(ids.begin(), ids.end(), eos_id);
  if (it == ids.end()) {
    throw InputError("input_ids: no EOT id " + std::to_string(eos_id) + " in a row of " +
                     std::to_string(ids.size()) + " ids (expected one EOT per row)");
  }
  return static_cast<int64_t>(it - ids.begin());
}

}  // namespace pbench
