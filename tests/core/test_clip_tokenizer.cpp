#define BOOST_TEST_MODULE clip_tokenizer
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/text/byte_unicode.hpp"
#include "framework/text/clip_pretokenizer.hpp"
#include "framework/text/clip_tokenizer.hpp"
#include "framework/text/html_unescape.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

// Runs on the repository's own tokenizer files (no ../shared needed). Expected
// ids are read from vocab.json directly, never from the tokenizer under test.
namespace fs = std::filesystem;
using pbench::ClipTokenizer;
using Ids = std::vector<int64_t>;

namespace {

fs::path asset_folder() { return pbench::test::source_dir() / "framework" / "assets" / "clip_tokenizer"; }

const ClipTokenizer& sd_tokenizer() {
  static const ClipTokenizer tokenizer = ClipTokenizer::from_folder(asset_folder());
  return tokenizer;
}

const nlohmann::json& vocab_json() {
  static const nlohmann::json vocab = [] {
    std::ifstream in(asset_folder() / "vocab.json");
    return nlohmann::json::parse(in);
  }();
  return vocab;
}

int64_t vocab_id(const std::string& token) { return vocab_json().at(token).get<int64_t>(); }

// SOT + ids + EOT, padded with EOT to 77: the SD v1 layout spelled out.
Ids sd_layout(const Ids& body) {
  Ids ids{49406};
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(49407);
  ids.resize(77, 49407);
  return ids;
}

// Message of the InputError `fn` throws ("" when it throws none).
template <typename Fn>
std::string input_error_of(Fn fn) {
  try {
    fn();
  } catch (const pbench::InputError& e) {
    return e.what();
  }
  return "";
}

void write_file(const fs::path& path, const std::string& content) { std::ofstream(path) << content; }

// A tiny tokenizer folder: the 512 byte symbols (plain and with </w>), the
// given merges and their results, then the two specials.
fs::path tiny_folder(const std::string& name, const std::vector<std::pair<std::string, std::string>>& merges) {
  const fs::path folder = pbench::test::scratch_dir(name);
  nlohmann::json vocab = nlohmann::json::object();
  int64_t next = 0;
  for (const auto& symbol : pbench::text::byte_symbols()) vocab[symbol] = next++;
  for (const auto& symbol : pbench::text::byte_symbols()) vocab[symbol + "</w>"] = next++;
  std::string merges_text = "#version: 0.2\n";
  for (const auto& [left, right] : merges) {
    merges_text += left + " " + right + "\n";
    if (!vocab.contains(left + right)) vocab[left + right] = next++;
  }
  vocab["<|startoftext|>"] = next++;
  vocab["<|endoftext|>"] = next++;
  write_file(folder / "vocab.json", vocab.dump());
  write_file(folder / "merges.txt", merges_text);
  return folder;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sd_v1_settings_come_from_the_folder) {
  const auto& tok = sd_tokenizer();
  BOOST_TEST(tok.bos_id() == vocab_id("<|startoftext|>"));
  BOOST_TEST(tok.bos_id() == 49406);
  BOOST_TEST(tok.eos_id() == 49407);
  BOOST_TEST(tok.pad_id() == 49407);
  BOOST_TEST(tok.max_length() == 77);
  BOOST_TEST(tok.vocab_size() == static_cast<int64_t>(vocab_json().size()));
  BOOST_TEST(tok.token_id("dog</w>") == vocab_id("dog</w>"));
}

BOOST_AUTO_TEST_CASE(byte_alphabet_follows_the_gpt2_layout) {
  const auto& table = pbench::text::byte_symbols();
  BOOST_TEST(table['a'] == "a");
  BOOST_TEST(table[0xE9] == "\xC3\xA9");  // 'é' maps to itself
  BOOST_TEST(table[0] == "\xC4\x80");     // first shifted byte -> U+0100
  BOOST_TEST(table[' '] == "\xC4\xA0");   // 33rd shifted byte -> U+0120 'Ġ'
  BOOST_TEST(table[0xAD] == "\xC5\x83");  // soft hyphen is the 68th and last: U+0143
}

BOOST_AUTO_TEST_CASE(a_photo_of_a_dog) {
  const auto encoded = sd_tokenizer().encode("a photo of a dog");
  const Ids body{vocab_id("a</w>"), vocab_id("photo</w>"), vocab_id("of</w>"), vocab_id("a</w>"),
                 vocab_id("dog</w>")};
  BOOST_TEST(encoded.input_ids == sd_layout(body), boost::test_tools::per_element());
  Ids mask(77, 0);
  std::fill(mask.begin(), mask.begin() + 7, 1);
  BOOST_TEST(encoded.attention_mask == mask, boost::test_tools::per_element());
  BOOST_TEST(sd_tokenizer().tokenize_ids("a photo of a dog") == body, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_text_is_sot_eot_and_padding) {
  const auto encoded = sd_tokenizer().encode("   \n\t ");
  BOOST_TEST(encoded.input_ids == sd_layout({}), boost::test_tools::per_element());
  BOOST_TEST(encoded.attention_mask[1] == 1);
  BOOST_TEST(encoded.attention_mask[2] == 0);
}

BOOST_AUTO_TEST_CASE(truncation_keeps_eot_at_position_76) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "dog ";
  const auto& tok = sd_tokenizer();
  BOOST_TEST(tok.tokenize_ids(text).size() == 100u);
  const auto encoded = tok.encode(text);
  BOOST_REQUIRE(encoded.input_ids.size() == 77u);
  BOOST_TEST(encoded.input_ids[0] == 49406);
  BOOST_TEST(encoded.input_ids[75] == vocab_id("dog</w>"));
  BOOST_TEST(encoded.input_ids[76] == 49407);
  BOOST_TEST(encoded.attention_mask == Ids(77, 1), boost::test_tools::per_element());
  BOOST_TEST(ClipTokenizer::first_eot_position(encoded.input_ids, tok.eos_id()) == 76);
}

BOOST_AUTO_TEST_CASE(whitespace_is_collapsed_and_case_folded) {
  const auto& tok = sd_tokenizer();
  const auto reference = tok.encode("a photo of a dog").input_ids;
  BOOST_TEST(tok.encode("  A\tPHOTO\n\nof   a DoG  ").input_ids == reference, boost::test_tools::per_element());
  // U+3000 ideographic space, U+00A0 no-break space, U+2003 em space, U+0085.
  BOOST_TEST(tok.encode("a\xE3\x80\x80photo\xC2\xA0of\xE2\x80\x83" "a\xC2\x85" "dog").input_ids == reference,
             boost::test_tools::per_element());
  BOOST_TEST(pbench::text::normalize_clip_text("  Hello \t  World  ") == "hello world");
}

BOOST_AUTO_TEST_CASE(lower_casing_is_whole_string_unicode) {
  using pbench::text::normalize_clip_text;
  // U+0130 becomes 'i' + U+0307 (as Python's str.lower), not a plain 'i'.
  BOOST_TEST(normalize_clip_text("\xC4\xB0stanbul") == "i\xCC\x87stanbul");
  // A word-final capital sigma becomes final sigma U+03C2, others U+03C3.
  BOOST_TEST(normalize_clip_text("\xCE\xA3\xCE\x9F\xCE\xA3") == "\xCF\x83\xCE\xBF\xCF\x82");
  // The combining dot is neither letter nor number: it is a word of its own.
  const Ids ids = sd_tokenizer().tokenize_ids("\xC4\xB0");
  BOOST_TEST(ids.size() == 2u);
  BOOST_TEST(ids[0] == vocab_id("i</w>"));
}

BOOST_AUTO_TEST_CASE(regex_splits_contractions_digits_and_punctuation) {
  const auto& tok = sd_tokenizer();
  BOOST_TEST(tok.tokenize_ids("dog's") == (Ids{vocab_id("dog</w>"), vocab_id("'s</w>")}),
             boost::test_tools::per_element());
  // Each digit is its own word.
  BOOST_TEST(tok.tokenize_ids("42") == (Ids{vocab_id("4</w>"), vocab_id("2</w>")}),
             boost::test_tools::per_element());
  // The special token survives inside text as one id...
  BOOST_TEST(tok.tokenize_ids("a, <|endoftext|>") == (Ids{vocab_id("a</w>"), vocab_id(",</w>"), 49407}),
             boost::test_tools::per_element());
  // ...but a punctuation run is one word and swallows its "<|", as in the reference.
  const Ids glued = tok.tokenize_ids("a,<|endoftext|>");
  BOOST_TEST(std::count(glued.begin(), glued.end(), 49407) == 0);
}

BOOST_AUTO_TEST_CASE(html_entities_are_unescaped_twice) {
  const auto& tok = sd_tokenizer();
  BOOST_TEST(tok.encode("fish &amp; chips").input_ids == tok.encode("fish & chips").input_ids,
             boost::test_tools::per_element());
  BOOST_TEST(tok.encode("&amp;lt;b&amp;gt;").input_ids == tok.encode("<b>").input_ids,
             boost::test_tools::per_element());
  using pbench::text::html_unescape;
  BOOST_TEST(html_unescape("&#65;&#x42;&#X43") == "ABC");
  BOOST_TEST(html_unescape("&#128;") == "\xE2\x82\xAC");  // Windows-1252 euro
  BOOST_TEST(html_unescape("&#0;&#xD800;&#99999999;") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  BOOST_TEST(html_unescape("a&#1;b") == "ab");
  BOOST_TEST(html_unescape("&ampfoo &notit; &bogus; &#;") == "&foo \xC2\xACit; &bogus; &#;");
  BOOST_TEST(html_unescape("&eacute;&Omega;&hellip;") == "\xC3\xA9\xCE\xA9\xE2\x80\xA6");
}

BOOST_AUTO_TEST_CASE(added_token_is_one_id_inside_a_sentence) {
  ClipTokenizer tok = sd_tokenizer();  // a copy: the shared one stays unchanged
  const Ids plain = tok.tokenize_ids("<sks>");
  BOOST_TEST(plain.size() == 3u);  // '<', 'sks', '>' without the added token
  BOOST_TEST(tok.add_token("<sks>") == 49408);
  BOOST_TEST(tok.add_token("<sks>") == 49408);  // idempotent
  BOOST_TEST(tok.add_token("<other>") == 49409);
  BOOST_TEST(tok.vocab_size() == 49410);
  BOOST_TEST(tok.token_id("<sks>") == 49408);
  BOOST_TEST(sd_tokenizer().vocab_size() == 49408);

  const Ids body{vocab_id("a</w>"), vocab_id("photo</w>"), vocab_id("of</w>"), 49408, vocab_id("dog</w>")};
  const auto encoded = tok.encode("A photo of <sks> dog");
  BOOST_TEST(encoded.input_ids == sd_layout(body), boost::test_tools::per_element());
  // Matched in the raw text, even without surrounding spaces.
  BOOST_TEST(tok.tokenize_ids("a<sks>dog") == (Ids{vocab_id("a</w>"), 49408, vocab_id("dog</w>")}),
             boost::test_tools::per_element());
  // Pooling: argmax would pick the added id, the first EOT is right.
  BOOST_TEST(ClipTokenizer::first_eot_position(encoded.input_ids, tok.eos_id()) == 6);

  BOOST_TEST(input_error_of([&] { tok.add_token("dog</w>"); }).find("dog</w>") != std::string::npos);
  BOOST_TEST(input_error_of([&] { tok.add_token(""); }) != "");
  BOOST_TEST(input_error_of([&] { tok.token_id("<nope>"); }).find("<nope>") != std::string::npos);
  BOOST_TEST(input_error_of([] { ClipTokenizer::first_eot_position({49406, 320}, 49407); }) != "");
}

BOOST_AUTO_TEST_CASE(saved_added_tokens_are_loaded) {
  const fs::path folder = pbench::test::scratch_dir("clip_tokenizer_added");
  for (const auto& entry : fs::directory_iterator(asset_folder())) {
    if (entry.path().extension() == ".json" || entry.path().extension() == ".txt") {
      fs::copy_file(entry.path(), folder / entry.path().filename());
    }
  }
  write_file(folder / "added_tokens.json", R"({"<cat-toy>": 49408})");
  const auto tok = ClipTokenizer::from_folder(folder);
  BOOST_TEST(tok.token_id("<cat-toy>") == 49408);
  BOOST_TEST(tok.vocab_size() == 49409);

  write_file(folder / "added_tokens.json", R"({"<cat-toy>": 49410})");
  BOOST_TEST(input_error_of([&] { ClipTokenizer::from_folder(folder); }).find("49410") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(merge_ranks_decide_the_split) {
  // "hello": with "l l" first the pair "e l" can no longer form, and the
  // other way round "l l" cannot; only the rank order tells them apart.
  const auto ll_first = ClipTokenizer::from_folder(tiny_folder("bpe_ll_first", {{"l", "l"}, {"e", "l"}}));
  const auto el_first = ClipTokenizer::from_folder(tiny_folder("bpe_el_first", {{"e", "l"}, {"l", "l"}}));
  BOOST_TEST(ll_first.tokenize_ids("hello") ==
                 (Ids{ll_first.token_id("h"), ll_first.token_id("e"), ll_first.token_id("ll"),
                      ll_first.token_id("o</w>")}),
             boost::test_tools::per_element());
  BOOST_TEST(el_first.tokenize_ids("hello") ==
                 (Ids{el_first.token_id("h"), el_first.token_id("el"), el_first.token_id("l"),
                      el_first.token_id("o</w>")}),
             boost::test_tools::per_element());
  // Without configs: SD v1 defaults, specials looked up in this vocab.
  BOOST_TEST(ll_first.max_length() == 77);
  BOOST_TEST(ll_first.eos_id() == ll_first.token_id("<|endoftext|>"));
  BOOST_TEST(ll_first.eos_id() == ll_first.vocab_size() - 1);
}

BOOST_AUTO_TEST_CASE(config_values_are_read_not_hard_coded) {
  const fs::path folder = tiny_folder("bpe_config", {{"h", "i</w>"}});
  write_file(folder / "tokenizer_config.json",
             R"({"model_max_length": 5, "bos_token": {"content": "<|startoftext|>"}, "pad_token": "!"})");
  const auto tok = ClipTokenizer::from_folder(folder);
  BOOST_TEST(tok.max_length() == 5);
  BOOST_TEST(tok.pad_id() == tok.token_id("!"));
  const auto encoded = tok.encode("hi hi hi hi");
  BOOST_TEST(encoded.input_ids == (Ids{tok.bos_id(), tok.token_id("hi</w>"), tok.token_id("hi</w>"),
                                       tok.token_id("hi</w>"), tok.eos_id()}),
             boost::test_tools::per_element());
  BOOST_TEST(tok.encode("hi").input_ids == (Ids{tok.bos_id(), tok.token_id("hi</w>"), tok.eos_id(),
                                                tok.pad_id(), tok.pad_id()}),
             boost::test_tools::per_element());
  // HF's "no limit" sentinel falls back to 77.
  write_file(folder / "tokenizer_config.json", R"({"model_max_length": 1000000000000000019884624838656})");
  BOOST_TEST(ClipTokenizer::from_folder(folder).max_length() == 77);
}

BOOST_AUTO_TEST_CASE(bad_folders_name_the_file) {
  const fs::path missing = pbench::test::binary_dir() / "test-scratch" / "no-such-tokenizer";
  BOOST_TEST(input_error_of([&] { ClipTokenizer::from_folder(missing); }).find("no-such-tokenizer") !=
             std::string::npos);

  const fs::path folder = tiny_folder("bpe_bad", {{"h", "i</w>"}});
  auto error = [&] { return input_error_of([&] { ClipTokenizer::from_folder(folder); }); };
  BOOST_TEST(error() == "");

  write_file(folder / "merges.txt", "#version: 0.2\nh i</w>\nh i x\n");
  BOOST_TEST(error().find("merges.txt: line 3") != std::string::npos);
  fs::remove(folder / "merges.txt");
  BOOST_TEST(error().find("merges.txt") != std::string::npos);
  write_file(folder / "merges.txt", "#version: 0.2\nh i</w>\n");

  write_file(folder / "tokenizer_config.json", R"({"model_max_length": "long"})");
  BOOST_TEST(error().find("tokenizer_config.json: key 'model_max_length'") != std::string::npos);
  write_file(folder / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  BOOST_TEST(error().find("bos_token '<s>'") != std::string::npos);
  write_file(folder / "tokenizer_config.json", "{ not json");
  BOOST_TEST(error().find("tokenizer_config.json: not valid JSON") != std::string::npos);
  fs::remove(folder / "tokenizer_config.json");

  write_file(folder / "vocab.json", R"({"a": 0, "b": 5})");
  BOOST_TEST(error().find("vocab.json: token 'b' has id 5") != std::string::npos);
  write_file(folder / "vocab.json", "[1, 2]");
  BOOST_TEST(error().find("vocab.json") != std::string::npos);
}
