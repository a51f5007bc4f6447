#include "framework/models/hf/export.hpp"

#include "framework/models/hf/hf_config.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/text_file.hpp"

namespace pbench::models {

namespace fs = std::filesystem;

namespace {

// The files a Hugging Face tokenizer folder consists of (added_tokens.json
// carries Textual Inversion tokens when present).
const char* const kTokenizerFiles[] = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
                                       "added_tokens.json"};

fs::path make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw InputError(dir.string() + ": cannot create the export folder (" + ec.message() + ")");
  return dir;
}

void merge_into(TensorMap& to, const TensorMap& from) { to.insert(from.begin(), from.end()); }

void check_has_data(const torch::nn::Module& module, const std::string& what) {
  for (const auto& p : module.parameters())
    if (p.is_meta()) throw InputError(what + ": built on the meta device (shapes only); nothing to export");
}

void write_weights(const fs::path& file, const TensorMap& tensors) {
  save_safetensors(file, tensors, {{"format", "pt"}});
}

void copy_tokenizer(const fs::path& from, const fs::path& to) {
  for (const char* name : kTokenizerFiles)
    if (fs::is_regular_file(from / name)) copy_into(from / name, to / name);
}

// The text encoder's config as read, with vocab_size set to its token table's rows: a method
// baked in by `pbench merge` (Textual Inversion, Custom Diffusion) grew the table, as
// transformers' resize_token_embeddings does.
void write_text_encoder_config(const Pipeline& p, const fs::path& from, const fs::path& to) {
  const int64_t rows = p.text_encoder->text_model->embeddings->token_embedding->weight.size(0);
  nlohmann::json doc = read_json_section(from).json();
  if (!doc.contains("vocab_size") || doc.at("vocab_size") == rows) return copy_into(from, to);
  doc["vocab_size"] = rows;
  write_text_file(to, doc.dump(2));
}

// added_tokens.json {token: id} (transformers' layout) of every token past vocab.json: the
// source folder's and those a merged method added. Nothing when there are none.
void write_added_tokens(const ClipTokenizer& tokenizer, const fs::path& to) {
  if (tokenizer.added_tokens().empty()) return;
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [token, id] : tokenizer.added_tokens()) doc[token] = id;
  write_text_file(to, doc.dump(2));
}

}  // namespace

void copy_into(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw InputError(to.string() + ": cannot write (copy of " + from.string() + ": " + ec.message() + ")");
}

TensorMap state_dict(const torch::nn::Module& module, const std::string& prefix) {
  TensorMap out;
  for (const auto& p : module.named_parameters()) out[prefix + p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers()) out[prefix + b.key()] = b.value().detach();
  return out;
}

ExportKind export_kind_of(const std::string& spec) {
  if (spec == kBuiltinTiny || spec == kBuiltinMini) return ExportKind::kPipeline;
  if (spec == kBuiltinTinyClip || spec == kBuiltinMiniClip) return ExportKind::kClip;
  if (spec == kBuiltinTinyDino || spec == kBuiltinMiniDino) return ExportKind::kDino;
  const fs::path path(spec);
  if (spec.rfind("builtin:", 0) == 0 || !fs::is_directory(path))
    throw InputError(spec + ": expected builtin:mini, builtin:tiny, builtin:tiny-clip, builtin:tiny-dino, builtin:mini-clip, "
                     "builtin:mini-dino, a diffusers pipeline "
                     "folder (model_index.json) or a Hugging Face CLIP / ViT folder (config.json)");
  if (fs::exists(path / "model_index.json")) return ExportKind::kPipeline;
  JsonSection root = read_json_section(config_file_of(path));
  switch (detect_model_kind(root)) {
    case HfModelKind::kClipModel: return ExportKind::kClip;
    case HfModelKind::kVit: return ExportKind::kDino;
    default: root.fail("model_type", "a CLIPModel (clip) or ViTModel (vit) folder, or a diffusers pipeline folder");
  }
}

void export_pipeline(const Pipeline& p, const fs::path& folder) {
  check_has_data(*p.unet, p.source);
  const fs::path& src = p.config_folder;
  make_dir(folder);
  copy_into(src / "model_index.json", folder / "model_index.json");
  for (const char* part : {"unet", "vae", "text_encoder", "tokenizer", "scheduler"}) make_dir(folder / part);
  // Configs as read; weights under the names pbench loads (legacy VAE
  // attention names come out as the current diffusers ones).
  copy_into(src / "unet" / "config.json", folder / "unet" / "config.json");
  write_weights(folder / "unet" / kDiffusersWeights, state_dict(*p.unet));
  copy_into(src / "vae" / "config.json", folder / "vae" / "config.json");
  write_weights(folder / "vae" / kDiffusersWeights, state_dict(*p.vae));
  write_text_encoder_config(p, src / "text_encoder" / "config.json", folder / "text_encoder" / "config.json");
  write_weights(folder / "text_encoder" / kTransformersWeights, state_dict(*p.text_encoder));
  copy_into(src / "scheduler" / "scheduler_config.json", folder / "scheduler" / "scheduler_config.json");
  copy_tokenizer(p.tokenizer_folder, folder / "tokenizer");
  write_added_tokens(*p.tokenizer, folder / "tokenizer" / "added_tokens.json");
  // An image encoder beside the pipeline (builtin:mini's; diffusers' IP-Adapter layout) is
  // copied as it is: no method trains it, and image-conditioned methods read it from there.
  const fs::path image_encoder = src / "image_encoder";
  if (fs::is_regular_file(image_encoder / kTransformersWeights)) {
    make_dir(folder / "image_encoder");
    for (const char* name : {"config.json", "preprocessor_config.json", kTransformersWeights})
      if (fs::is_regular_file(image_encoder / name)) copy_into(image_encoder / name, folder / "image_encoder" / name);
  }
}

void export_clip_backbone(const ClipBackbone& b, const fs::path& folder) {
  make_dir(folder);
  copy_into(b.config_folder / "config.json", folder / "config.json");
  copy_into(b.config_folder / "preprocessor_config.json", folder / "preprocessor_config.json");
  copy_tokenizer(b.tokenizer_folder, folder);
  TensorMap tensors = state_dict(*b.text);
  merge_into(tensors, state_dict(*b.vision));
  // CLIPModel's learned temperature: not used by the metrics (cosine
  // similarity), but part of the checkpoint layout. Kept from the source file
  // when there is one, else transformers' init value ln(1 / 0.07).
  torch::Tensor logit_scale = torch::tensor(2.6592f);
  if (!b.builtin) {
    TensorMap source = load_safetensors(b.config_folder / "model.safetensors");
    if (source.count("logit_scale")) logit_scale = source.at("logit_scale");
  }
  tensors["logit_scale"] = logit_scale;
  write_weights(folder / "model.safetensors", tensors);
}

void export_dino_backbone(const DinoBackbone& b, const fs::path& folder) {
  make_dir(folder);
  copy_into(b.config_folder / "config.json", folder / "config.json");
  if (fs::is_regular_file(b.config_folder / "preprocessor_config.json"))
    copy_into(b.config_folder / "preprocessor_config.json", folder / "preprocessor_config.json");
  write_weights(folder / "model.safetensors", state_dict(*b.model));
}

ExportKind export_model(const std::string& spec, const fs::path& folder) {
  const ExportKind kind = export_kind_of(spec);
  switch (kind) {
    case ExportKind::kPipeline: export_pipeline(load_pipeline(spec), folder); break;
    case ExportKind::kClip: export_clip_backbone(load_clip_backbone(spec), folder); break;
    case ExportKind::kDino: export_dino_backbone(load_dino_backbone(spec), folder); break;
  }
  return kind;
}

}  // namespace pbench::models
