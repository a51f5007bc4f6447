#pragma once
// Data files shipped with pbench (framework/assets/: the CLIP tokenizer, the
// builtin:tiny configs, the SD v1.5 configs). Found through PBENCH_ASSETS_DIR
// when set (an installed or relocated binary), else the source tree the binary
// was built from.
#include <filesystem>
#include <string>

namespace pbench {

// The assets root; InputError naming the folder tried when it does not exist.
std::filesystem::path assets_dir();
// assets_dir() / relative; InputError naming the path when absent.
std::filesystem::path asset_path(const std::string& relative);

}  // namespace pbench
