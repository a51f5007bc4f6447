#pragma once
// `pbench parity clip_tokenizer <folder>`: the tokenizer folder is loaded as a
// user's tokenizer is, every case of cases.json is encoded, and every id is
// compared exactly (one row per case and field).
#include "framework/models/parity/parity.hpp"

namespace pbench::parity {
Component clip_tokenizer_parity_component();
}  // namespace pbench::parity
