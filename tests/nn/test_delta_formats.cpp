#define BOOST_TEST_MODULE delta_formats
// pbench deltas in other tools' layouts (framework/tensor/delta_formats.hpp):
// key names and shapes on SD v1.5 as the formats document them (written out
// here, not taken from pbench's output), bit-identical export -> import, and
// refusals that name the key.
#include <boost/test/unit_test.hpp>

#include <set>

#include "framework/config/yaml_io.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/run/run_delta.hpp"
#include "framework/tensor/delta_formats.hpp"
#include "framework/train/method.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

using namespace pbench;
using interop::DeltaFile;
using interop::DeltaInfo;

namespace {

// LoRA (registry defaults, r = 4, text encoder on) attached to SD v1.5 on the meta device.
TensorMap sd15_lora_delta() {
  static TensorMap delta = [] {
    models::Pipeline p = models::sd15_meta_pipeline();
    cfg::Node section = cfg::parse_yaml_text("name: lora\ntext_encoder: true\n", {"test", 0});
    const auto& entry = methods().get("lora", "test");
    auto method = entry.factory.create(section);
    freeze_pipeline(p);
    MethodTarget target{p, nullptr};
    method->attach(target);
    return method->delta();
  }();
  return delta;
}

// A method (registry defaults, then the `options` YAML) attached to SD v1.5 on the meta device.
TensorMap sd15_delta_of(const std::string& method, const std::string& options = "") {
  models::Pipeline p = models::sd15_meta_pipeline();
  auto m = methods().get(method, "test").factory.create(cfg::parse_yaml_text("name: " + method + "\n" + options, {"test", 0}));
  freeze_pipeline(p);
  MethodTarget target{p, nullptr};
  m->attach(target);
  return m->delta();
}

std::vector<int64_t> shape(const TensorMap& m, const std::string& key) {
  auto it = m.find(key);
  BOOST_TEST_REQUIRE((it != m.end()), "missing key " << key);
  return it->second.sizes().vec();
}

TensorMap random_like(const TensorMap& keys_from) {
  TensorMap out;
  torch::manual_seed(7);
  for (const auto& [k, t] : keys_from) out[k] = torch::randn(t.sizes());
  return out;
}

bool identical(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, t] : a) {
    auto it = b.find(k);
    if (it == b.end() || !torch::equal(t, it->second)) return false;
  }
  return true;
}

template <class F>
void check_refused(F&& f, const std::string& words) {
  BOOST_CHECK_EXCEPTION(f(), InputError, [&](const InputError& e) {
    bool ok = std::string(e.what()).find(words) != std::string::npos;
    if (!ok) BOOST_TEST_MESSAGE("error was: " << e.what());
    return ok;
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(kohya_keys_on_sd15_are_the_documented_ones) {
  DeltaFile f = interop::export_delta(sd15_lora_delta(), DeltaInfo{"lora", "sd15", "", 0, 4.0}, "kohya");
  // 128 UNet attention projections (16 transformer blocks x 2 attentions x q,k,v,out)
  // and 48 text-encoder projections (12 layers x q,k,v,out), each down, up and alpha.
  BOOST_TEST(f.tensors.size() == 3u * (128 + 48));
  using V = std::vector<int64_t>;
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight") == V({4, 320}));
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight") == V({4, 768}));
  BOOST_TEST(shape(f.tensors, "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_out_0.lora_up.weight") == V({1280, 4}));
  BOOST_TEST(shape(f.tensors, "lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_v.lora_up.weight") == V({320, 4}));
  BOOST_TEST(shape(f.tensors, "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight") == V({4, 768}));
  BOOST_TEST(shape(f.tensors, "lora_te_text_model_encoder_layers_11_self_attn_out_proj.lora_up.weight") == V({768, 4}));
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha") == V({}));
  BOOST_TEST(f.tensors.at("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha").item<float>() == 4.0f);
  BOOST_TEST(f.metadata.at("ss_network_dim") == "4");
  BOOST_TEST(f.metadata.at("pbench_base_model") == "sd15");
  // Every kohya name reads back to the module path it came from.
  DeltaInfo back;
  TensorMap again = interop::import_delta(f, "lora", "kohya", back, "test");
  std::set<std::string> a, b;
  for (const auto& [k, _] : sd15_lora_delta()) a.insert(k);
  for (const auto& [k, _] : again) b.insert(k);
  BOOST_TEST((a == b));
  BOOST_TEST(back.rank == 4);
  BOOST_TEST(back.alpha == 4.0);
}

BOOST_AUTO_TEST_CASE(diffusers_and_peft_keys_on_sd15_are_the_documented_ones) {
  for (const char* format : {"diffusers", "peft"}) {
    DeltaFile f = interop::export_delta(sd15_lora_delta(), DeltaInfo{"lora", "sd15", "", 0, 8.0}, format);
    BOOST_TEST(f.tensors.size() == 2u * (128 + 48));
    using V = std::vector<int64_t>;
    BOOST_TEST(shape(f.tensors, "unet.down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_q.lora_A.weight") == V({4, 640}));
    BOOST_TEST(shape(f.tensors, "unet.down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_out.0.lora_B.weight") == V({640, 4}));
    BOOST_TEST(shape(f.tensors, "text_encoder.text_model.encoder.layers.5.self_attn.v_proj.lora_A.weight") == V({4, 768}));
    BOOST_TEST(f.metadata.at("lora_alpha") == std::to_string(8.0));
    BOOST_TEST(f.metadata.at("r") == "4");
  }
}

BOOST_AUTO_TEST_CASE(export_then_import_is_bit_identical_in_every_format) {
  TensorMap lora = random_like(sd15_lora_delta());
  for (const char* format : {"diffusers", "peft", "kohya", "a1111"}) {
    DeltaFile f = interop::export_delta(lora, DeltaInfo{"lora", "sd15", "0123456789abcdef", 0, 2.5}, format);
    DeltaInfo info;
    TensorMap back = interop::import_delta(f, "lora", format, info, "test");
    BOOST_TEST(identical(lora, back), format);
    BOOST_TEST(info.alpha == 2.5, format);
    BOOST_TEST(info.rank == 4, format);
  }
  TensorMap ti{{"<sks>", torch::randn({2, 768})}};
  for (const char* format : {"diffusers", "a1111"}) {
    DeltaFile f = interop::export_delta(ti, DeltaInfo{"textual_inversion", "sd15", "", 0, 0}, format);
    DeltaInfo info;
    BOOST_TEST(identical(ti, interop::import_delta(f, "textual_inversion", format, info, "test")), format);
  }
  DeltaFile a1111 = interop::export_delta(ti, DeltaInfo{"textual_inversion", "sd15", "", 0, 0}, "a1111");
  BOOST_TEST(a1111.tensors.count("emb_params") == 1u);
  BOOST_TEST(a1111.metadata.at("name") == "<sks>");
  // diffusers' learned_embeds may hold one [dim] vector
  DeltaInfo info;
  TensorMap one = interop::import_delta(DeltaFile{{{"tok", torch::ones({768})}}, {}}, "textual_inversion", "diffusers", info, "t");
  BOOST_TEST(one.at("tok").sizes().vec() == std::vector<int64_t>({1, 768}));
}

BOOST_AUTO_TEST_CASE(bad_files_are_refused_naming_the_key) {
  DeltaInfo info;
  auto f = interop::export_delta(random_like(sd15_lora_delta()), DeltaInfo{"lora", "sd15", "", 0, 4}, "kohya");
  DeltaFile unknown = f;
  unknown.tensors["lora_unet_x.hada_w1_a"] = torch::zeros({4, 4});
  check_refused([&] { interop::import_delta(unknown, "lora", "kohya", info, "their.safetensors"); },
                "their.safetensors: key 'lora_unet_x.hada_w1_a'");
  DeltaFile half = f;
  half.tensors.erase("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight");
  check_refused([&] { interop::import_delta(half, "lora", "kohya", info, "f"); }, "has no matching");
  DeltaFile ranks = f;
  ranks.tensors["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"] = torch::zeros({8, 320});
  check_refused([&] { interop::import_delta(ranks, "lora", "kohya", info, "f"); }, "rank 8, other layers have rank 4");
  TensorMap conv{{"unet.down_blocks.0.resnets.0.conv1.lora.down", torch::zeros({4, 2880})},
                 {"unet.down_blocks.0.resnets.0.conv1.lora.up", torch::zeros({320, 4})}};
  check_refused([&] { interop::export_delta(conv, DeltaInfo{"lora", "", "", 0, 4}, "kohya"); }, "a conv layer");
  check_refused([&] { interop::export_delta({}, DeltaInfo{"svdiff", "", "", 0, 0}, "kohya"); }, "no interchange format yet");
  check_refused([&] { interop::export_delta({}, DeltaInfo{"textual_inversion", "", "", 0, 0}, "kohya"); },
                "textual_inversion deltas are written as diffusers, a1111");
  check_refused([&] { interop::import_delta(DeltaFile{{{"emb_params", torch::zeros({1, 768})}}, {}}, "textual_inversion", "a1111", info, "e.safetensors"); },
                "no metadata 'name'");
  // Issue 41: an alpha that is not one finite number > 0, and rank-0 factors, are refused by name.
  const std::string alpha_key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha";
  DeltaFile wide = f;
  wide.tensors[alpha_key] = torch::ones({3});
  check_refused([&] { interop::import_delta(wide, "lora", "kohya", info, "f"); }, alpha_key + ": expected one number, got a tensor of 3 values");
  DeltaFile nan = f;
  nan.tensors[alpha_key] = torch::tensor(std::nanf(""));
  check_refused([&] { interop::import_delta(nan, "lora", "kohya", info, "f"); }, "expected a finite alpha > 0, got nan");
  DeltaFile rank0;
  rank0.tensors["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight"] = torch::zeros({0, 320});
  rank0.tensors["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_up.weight"] = torch::zeros({320, 0});
  check_refused([&] { interop::import_delta(rank0, "lora", "kohya", info, "f"); }, "f: rank 0; a low-rank delta has rank >= 1");
  auto peft = interop::export_delta(random_like(sd15_lora_delta()), DeltaInfo{"lora", "sd15", "", 0, 4}, "peft");
  peft.metadata["lora_alpha"] = "four";
  check_refused([&] { interop::import_delta(peft, "lora", "peft", info, "p"); }, "p: metadata lora_alpha: expected a finite alpha > 0, got 'four'");
  // A folder where a delta file is expected: one line, not std::bad_alloc.
  check_refused([&] { load_safetensors(pbench::test::scratch_dir("delta_as_folder")); }, "is a folder; expected a .safetensors file");
}

BOOST_AUTO_TEST_CASE(lycoris_loha_and_lokr_keys_on_sd15_are_the_documented_ones) {
  // LyCORIS' kohya-style keys (lycoris/modules/loha.py, lokr.py): hada_w1_a [out, r], hada_w1_b [r, in],
  // the same for w2; lokr_w1 [out_l, in_m] and lokr_w2_a [out_k, r], lokr_w2_b [r, in_n] with
  // factorization(dim, -1) = the most balanced (smaller, larger) split: 320 = 16·20, 768 = 24·32.
  using V = std::vector<int64_t>;
  const std::string q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k";
  DeltaFile loha = interop::export_delta(sd15_delta_of("loha"), DeltaInfo{"loha", "sd15", "", 0, 2.0}, "kohya");
  BOOST_TEST(loha.tensors.size() == 5u * 128);  // four factors + alpha per UNet attention projection
  BOOST_TEST(shape(loha.tensors, q + ".hada_w1_a") == V({320, 4}));
  BOOST_TEST(shape(loha.tensors, q + ".hada_w1_b") == V({4, 320}));
  BOOST_TEST(shape(loha.tensors, k + ".hada_w2_a") == V({320, 4}));
  BOOST_TEST(shape(loha.tensors, k + ".hada_w2_b") == V({4, 768}));
  BOOST_TEST(loha.tensors.at(q + ".alpha").item<float>() == 2.0f);
  BOOST_TEST(loha.metadata.at("ss_network_module") == "lycoris.kohya");
  DeltaFile lokr = interop::export_delta(sd15_delta_of("lokr"), DeltaInfo{"lokr", "sd15", "", 0, 8.0}, "a1111");
  BOOST_TEST(lokr.tensors.size() == 4u * 128);  // w1, w2_a, w2_b + alpha (every W2 low rank at r = 8)
  BOOST_TEST(shape(lokr.tensors, q + ".lokr_w1") == V({16, 16}));
  BOOST_TEST(shape(lokr.tensors, q + ".lokr_w2_a") == V({20, 8}));
  BOOST_TEST(shape(lokr.tensors, q + ".lokr_w2_b") == V({8, 20}));
  BOOST_TEST(shape(lokr.tensors, k + ".lokr_w1") == V({16, 24}));
  BOOST_TEST(shape(lokr.tensors, k + ".lokr_w2_b") == V({8, 32}));
  // Back to pbench's keys, bit-identical, with rank and alpha.
  for (const char* method : {"loha", "lokr"}) {
    TensorMap delta = random_like(sd15_delta_of(method));
    for (const char* format : {"kohya", "a1111"}) {
      DeltaFile f = interop::export_delta(delta, DeltaInfo{method, "sd15", "", 0, 3.0}, format);
      DeltaInfo info;
      BOOST_TEST(identical(delta, interop::import_delta(f, method, format, info, "test")), method << " " << format);
      BOOST_TEST(info.alpha == 3.0);
      BOOST_TEST(info.rank == (std::string(method) == "loha" ? 4 : 8));
    }
  }
  // A LoHa file read as LoKr, or a layer missing a factor, is refused naming the key.
  DeltaInfo info;
  check_refused([&] { interop::import_delta(loha, "lokr", "kohya", info, "their.safetensors"); },
                "hada_w1_a': not a lokr factor");
  DeltaFile partial = loha;
  partial.tensors.erase(q + ".hada_w2_b");
  check_refused([&] { interop::import_delta(partial, "loha", "kohya", info, "their.safetensors"); },
                "incomplete loha factors");
}

BOOST_AUTO_TEST_CASE(custom_diffusion_in_diffusers_layout_on_sd15) {
  // diffusers' train_custom_diffusion.py: unet.save_attn_procs writes
  // <attn2 module>.processor.to_k_custom_diffusion.weight [C, 768] and to_v_…, plus to_q_… and
  // to_out_custom_diffusion.0.{weight,bias} when q/out train; save_new_embed writes one
  // <token>.safetensors {<token>: [768]} per modifier token.
  using V = std::vector<int64_t>;
  const std::string down = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.";
  DeltaFile kv = interop::export_delta(sd15_delta_of("custom_diffusion"),
                                       DeltaInfo{"custom_diffusion", "sd15", "", 0, 0}, "diffusers");
  BOOST_TEST(kv.tensors.size() == 2u * 16);  // K and V of SD v1.5's 16 cross-attentions
  BOOST_TEST(shape(kv.tensors, down + "to_k_custom_diffusion.weight") == V({320, 768}));
  BOOST_TEST(shape(kv.tensors, "mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_v_custom_diffusion.weight") ==
             V({1280, 768}));
  BOOST_TEST(shape(kv.tensors, "up_blocks.3.attentions.2.transformer_blocks.0.attn2.processor.to_k_custom_diffusion.weight") ==
             V({320, 768}));
  BOOST_REQUIRE(kv.companions.size() == 1u);
  BOOST_TEST(kv.companions[0].first == "<new1>.safetensors");
  BOOST_TEST(shape(kv.companions[0].second, "<new1>") == V({768}));
  BOOST_TEST(kv.metadata.at("modifier_token") == "<new1>");

  // freeze_model: crossattn, two tokens: exported and read back bit-identical.
  models::Pipeline p = models::sd15_meta_pipeline();
  auto m = methods().get("custom_diffusion", "test").factory.create(
      cfg::parse_yaml_text("name: custom_diffusion\nfreeze_model: crossattn\nmodifier_token: <a>+<b>\n", {"test", 0}));
  freeze_pipeline(p);
  MethodTarget target{p, nullptr};
  m->attach(target);
  const TensorMap delta = random_like(m->delta());
  DeltaInfo tokens{"custom_diffusion", "sd15", "", 0, 0};
  tokens.tokens = {"<a>", "<b>"};
  DeltaFile all = interop::export_delta(delta, tokens, "diffusers");
  BOOST_TEST(all.tensors.size() == 5u * 16);
  BOOST_TEST(shape(all.tensors, down + "to_q_custom_diffusion.weight") == V({320, 320}));
  BOOST_TEST(shape(all.tensors, down + "to_out_custom_diffusion.0.weight") == V({320, 320}));
  BOOST_TEST(shape(all.tensors, down + "to_out_custom_diffusion.0.bias") == V({320}));
  BOOST_TEST(all.companions[1].first == "<b>.safetensors");
  DeltaInfo info;
  BOOST_TEST(identical(delta, interop::import_delta(all, "custom_diffusion", "diffusers", info, "test")));
  BOOST_TEST(info.tokens == std::vector<std::string>({"<a>", "<b>"}), boost::test_tools::per_element());

  // Refused: a key of another processor, and weights without their token embedding.
  DeltaFile odd = kv;
  odd.tensors[down + "to_x_custom_diffusion.weight"] = torch::zeros({1});
  check_refused([&] { interop::import_delta(odd, "custom_diffusion", "diffusers", info, "w.safetensors"); },
                "w.safetensors: key '" + down + "to_x_custom_diffusion.weight'");
  DeltaFile bare = kv;
  bare.companions.clear();
  check_refused([&] { interop::import_delta(bare, "custom_diffusion", "diffusers", info, "w.safetensors"); }, "--embedding");
  check_refused([&] { interop::export_delta(delta, DeltaInfo{"custom_diffusion", "", "", 0, 0}, "kohya"); },
                "custom_diffusion deltas are written as diffusers");
}

namespace {
// SD v1.5's UNet as export-delta describes a base model (its config, shapes only).
DeltaInfo sd15_info(const std::string& method, double alpha = 0) {
  DeltaInfo info{method, "sd15", "", 0, alpha};
  describe_base_unet(info, asset_path("sd15").string());
  return info;
}
}  // namespace

BOOST_AUTO_TEST_CASE(lora_on_convs_in_kohya_layout_is_a_kernel_on_sd15) {
  // LoCon's layout as kohya / LyCORIS document it: lora_down is the layer's own conv with r output
  // channels ([r, in, kh, kw]), lora_up a 1x1 conv ([out, r, 1, 1]). SD v1.5: resnet conv1 is
  // 3x3, proj_in a 1x1 conv, the attention projections stay linear.
  const TensorMap lora = random_like(sd15_delta_of("lora", "targets: [to_q, conv1, proj_in]\n"));
  DeltaFile f = interop::export_delta(lora, sd15_info("lora", 4.0), "kohya");
  using V = std::vector<int64_t>;
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight") == V({4, 320, 3, 3}));
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight") == V({320, 4, 1, 1}));
  BOOST_TEST(shape(f.tensors, "lora_unet_up_blocks_3_resnets_2_conv1.lora_down.weight") == V({4, 640, 3, 3}));
  BOOST_TEST(shape(f.tensors, "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight") == V({4, 1280, 1, 1}));
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight") == V({4, 320}));
  // The kernel is the matrix view's own memory order: row 0 of down holds in-channel 0's 3x3 first.
  const torch::Tensor down = lora.at("unet.down_blocks.0.resnets.0.conv1.lora.down");
  BOOST_TEST(f.tensors.at("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight")[0][0][1][2].item<float>() ==
             down[0][5].item<float>());
  DeltaInfo back;
  BOOST_TEST(identical(lora, interop::import_delta(f, "lora", "kohya", back, "test")));
  BOOST_TEST(back.rank == 4);
}

BOOST_AUTO_TEST_CASE(p_plus_in_kohya_xti_layout_names_each_row_after_its_sd15_block) {
  // gen_img_diffusers.py --XTI_embeddings: exactly these 16 keys, [vectors, 768] each, the token
  // the file's name.
  const std::vector<std::string> documented = {"IN01",  "IN02",  "IN04",  "IN05",  "IN07",  "IN08",  "MID",   "OUT03",
                                               "OUT04", "OUT05", "OUT06", "OUT07", "OUT08", "OUT09", "OUT10", "OUT11"};
  TensorMap delta = random_like(sd15_delta_of("p_plus"));
  BOOST_REQUIRE(delta.size() == 1u);
  const auto& [token, rows] = *delta.begin();
  DeltaFile f = interop::export_delta(delta, sd15_info("p_plus"), "kohya");
  std::set<std::string> keys;
  for (const auto& [k, t] : f.tensors) keys.insert(k);
  BOOST_TEST((keys == std::set<std::string>(documented.begin(), documented.end())));
  // Forward order: row 6 conditions the mid block, row 15 the last up block's last attention.
  BOOST_TEST(torch::equal(f.tensors.at("MID"), rows[6].unsqueeze(0)));
  BOOST_TEST(torch::equal(f.tensors.at("OUT11"), rows[15].unsqueeze(0)));
  BOOST_TEST(f.metadata.at("placeholder") == token);
  DeltaInfo info;
  BOOST_TEST(identical(delta, interop::import_delta(f, "p_plus", "kohya", info, "test")));
  // kohya's own files carry no metadata: the token is the file's name.
  DeltaFile theirs = f;
  theirs.metadata.clear();
  BOOST_TEST(interop::import_delta(theirs, "p_plus", "kohya", info, "dir/mytoken.safetensors").count("mytoken") == 1u);
  DeltaFile bad = f;
  bad.tensors["IN3"] = torch::zeros({1, 768});
  check_refused([&] { interop::import_delta(bad, "p_plus", "kohya", info, "x.safetensors"); }, "x.safetensors: key 'IN3'");
  DeltaFile two_vectors = f;
  two_vectors.tensors["MID"] = torch::zeros({2, 768});
  check_refused([&] { interop::import_delta(two_vectors, "p_plus", "kohya", info, "x"); }, "MID: expected [1, d]");
  // Without the base model the rows cannot be named.
  check_refused([&] { interop::export_delta(delta, DeltaInfo{"p_plus", "", "", 0, 0}, "kohya"); }, "--base-model");
}

BOOST_AUTO_TEST_CASE(lokr_full_w2_on_a_conv_is_lycoris_kernel_on_sd15) {
  // LyCORIS keeps a conv's full W2 as a kernel: lokr_w2 [c, d, kh, kw] beside lokr_w1 [a, b]. On SD
  // v1.5's 3x3 resnet conv1 (320 -> 320 = 16·20 each way) with r = 100 >= (20·9) / 2, W2 is full:
  // [20, 20, 3, 3].
  const TensorMap lokr = random_like(sd15_delta_of("lokr", "targets: [conv1]\nrank: 100\n"));
  DeltaFile f = interop::export_delta(lokr, sd15_info("lokr", 1.0), "kohya");
  using V = std::vector<int64_t>;
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_resnets_0_conv1.lokr_w1") == V({16, 16}));
  BOOST_TEST(shape(f.tensors, "lora_unet_down_blocks_0_resnets_0_conv1.lokr_w2") == V({20, 20, 3, 3}));
  DeltaInfo back;
  BOOST_TEST(identical(lokr, interop::import_delta(f, "lokr", "kohya", back, "test")));
  // Without the base model the kernel size is unknown: refused naming the layer.
  check_refused([&] { interop::export_delta(lokr, DeltaInfo{"lokr", "", "", 0, 1.0}, "kohya"); },
                "lokr delta: unet.down_blocks.0.resnets.0.conv1.lokr.w2: a conv layer");
}
