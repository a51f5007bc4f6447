#pragma once
// Writing a small text file (a JSON config, a provenance record) the one way: its folder created,
// the text and a final newline written, InputError naming the file when it cannot be.
#include <filesystem>
#include <string>

namespace pbench {

void write_text_file(const std::filesystem::path& file, const std::string& text);

}  // namespace pbench
