#pragma once
// The components of `pbench pretrain`, in dependency order. Each trains one
// model of the mini world from scratch, writes it in the shipped layout
// (pretrain_context.hpp) and a run file of what it measured. `unet` needs
// `vae` and `clip` (it trains on their frozen outputs); the others stand alone.
#include <string>
#include <vector>

#include "framework/workloads/pretrain/pretrain_context.hpp"

namespace pbench::pretrain {

struct Component {
  std::string name;
  std::string summary;
  StageOutcome (*run)(const PretrainContext&);
};

const std::vector<Component>& pretrain_components();

StageOutcome run_vae_stage(const PretrainContext& context);
StageOutcome run_pipeline_clip_stage(const PretrainContext& context);
StageOutcome run_metric_clip_stage(const PretrainContext& context);
StageOutcome run_dino_stage(const PretrainContext& context);
StageOutcome run_unet_stage(const PretrainContext& context);

}  // namespace pbench::pretrain
