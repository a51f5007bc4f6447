#include "framework/models/sd/attention_control.hpp"

#include "framework/models/sd/attention.hpp"
#include "framework/models/sd/unet.hpp"
#include "framework/util/strings.hpp"

namespace pbench::models {

int64_t set_attention_controller(UNet2DConditionImpl& unet, const std::shared_ptr<AttentionController>& controller) {
  int64_t count = 0;
  for (const auto& item : unet.named_modules("", /*include_self=*/false)) {
    auto* attention = dynamic_cast<AttentionImpl*>(item.value().get());
    const std::string& name = item.key();
    if (!attention || name.find("transformer_blocks") == std::string::npos) continue;
    AttentionSite site;
    site.place = name.rfind("mid_block", 0) == 0 ? UNetPlace::mid
                 : name.rfind("up_blocks", 0) == 0 ? UNetPlace::up
                                                   : UNetPlace::down;
    site.cross = ends_with(name, ".attn2");
    site.index = count++;
    site.name = name;
    attention->set_controller(controller, site);
  }
  return count;
}

ScopedAttentionController::ScopedAttentionController(UNet2DConditionImpl& unet,
                                                     const std::shared_ptr<AttentionController>& controller)
    : unet_(unet) {
  set_attention_controller(unet_, controller);
}

ScopedAttentionController::~ScopedAttentionController() { set_attention_controller(unet_, nullptr); }

}  // namespace pbench::models
