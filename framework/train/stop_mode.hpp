#pragma once
// What a stop rule (DVAR's, CLIP early stopping's) does when it fires: `monitor`
// records its step and the weights there and trains on to the budget (one run
// gives every stop point and the final one); `stop` ends training there; `off`
// computes nothing.
#include "framework/config/options.hpp"

namespace pbench {

enum class StopMode { monitor, stop, off };

inline const cfg::EnumNames<StopMode>& enum_names(StopMode) {
  static const cfg::EnumNames<StopMode> names{{StopMode::monitor, "monitor"}, {StopMode::stop, "stop"}, {StopMode::off, "off"}};
  return names;
}

}  // namespace pbench
