#include "framework/models/parity/encoder_parity.hpp"

#include "framework/models/hf/hf_folder.hpp"
#include "framework/models/image_preprocess.hpp"

namespace pbench::models {
namespace {

void add_hidden_states(TensorMap& out, const std::vector<torch::Tensor>& hidden_states) {
  for (size_t i = 0; i < hidden_states.size(); ++i) out["hidden_states." + std::to_string(i)] = hidden_states[i];
}

// preprocessor_config.json when the folder has one, else CLIP's processor at
// the model's own size (resize short side + center crop to image_size).
ClipImageProcessorConfig clip_processor_for(const std::filesystem::path& folder, int64_t image_size) {
  std::filesystem::path file = folder / "preprocessor_config.json";
  if (std::filesystem::exists(file)) return read_clip_image_processor(file);
  ClipImageProcessorConfig c;
  c.shortest_edge = c.crop_height = c.crop_width = image_size;
  return c;
}

}  // namespace

parity::Component clip_text_parity_component() {
  parity::Component c;
  c.name = "clip_text";
  c.help = "Hugging Face CLIPTextModel(WithProjection): input_ids [+ attention_mask] -> last_hidden_state, "
           "pooler_output (first EOT), text_embeds";
  c.load = [](const std::filesystem::path& folder, const std::string& weights_file) {
    auto model = std::make_shared<ClipTextModel>(load_clip_text_folder(folder, weights_file));
    parity::Runner r;
    r.run_case = [model](parity::CaseInputs& in) {
      torch::NoGradGuard no_grad;
      torch::Tensor ids = in.get("input_ids");
      torch::Tensor mask = in.get_optional("attention_mask").value_or(torch::Tensor());
      ClipTextOutput o = (*model)->forward(ids, mask);
      TensorMap out{{"last_hidden_state", o.last_hidden_state}, {"pooler_output", o.pooler_output}};
      if (o.text_embeds.defined()) out["text_embeds"] = o.text_embeds;
      add_hidden_states(out, o.hidden_states);
      return out;
    };
    return r;
  };
  return c;
}

parity::Component clip_vision_parity_component() {
  parity::Component c;
  c.name = "clip_vision";
  c.help = "Hugging Face CLIPVisionModel(WithProjection) + CLIP image preprocessing: pixel_values -> "
           "last_hidden_state, pooler_output, image_embeds";
  c.load = [](const std::filesystem::path& folder, const std::string& weights_file) {
    auto model = std::make_shared<ClipVisionModel>(load_clip_vision_folder(folder, weights_file));
    ClipImageProcessorConfig processor = clip_processor_for(folder, (*model)->config.image_size);
    parity::Runner r;
    r.run_case = [model](parity::CaseInputs& in) {
      torch::NoGradGuard no_grad;
      ClipVisionOutput o = (*model)->forward(in.get("pixel_values"));
      TensorMap out{{"last_hidden_state", o.last_hidden_state}, {"pooler_output", o.pooler_output}};
      if (o.image_embeds.defined()) out["image_embeds"] = o.image_embeds;
      add_hidden_states(out, o.hidden_states);
      return out;
    };
    r.preprocess = [processor](const torch::Tensor& image_u8) { return clip_preprocess(image_u8, processor); };
    return r;
  };
  return c;
}

parity::Component dino_vit_parity_component() {
  parity::Component c;
  c.name = "dino_vit";
  c.help = "DINO ViT in Hugging Face ViTModel naming: pixel_values -> cls (final LayerNorm), last_hidden_state";
  c.load = [](const std::filesystem::path& folder, const std::string& weights_file) {
    auto model = std::make_shared<DinoVitModel>(load_dino_vit_folder(folder, weights_file));
    const int64_t size = (*model)->config.image_size;
    parity::Runner r;
    r.run_case = [model](parity::CaseInputs& in) {
      torch::NoGradGuard no_grad;
      DinoVitOutput o = (*model)->forward(in.get("pixel_values"));
      TensorMap out{{"cls", o.cls}, {"last_hidden_state", o.last_hidden_state}};
      add_hidden_states(out, o.hidden_states);
      return out;
    };
    // Images at the model's size: ImageNet normalisation only (tolerance.json preprocess note).
    r.preprocess = [size](const torch::Tensor& image_u8) { return dino_normalize(image_u8, size); };
    return r;
  };
  return c;
}

}  // namespace pbench::models
