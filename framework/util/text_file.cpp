#include "framework/util/text_file.hpp"

#include <fstream>

#include "framework/util/errors.hpp"

namespace pbench {

void write_text_file(const std::filesystem::path& file, const std::string& text) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file);
  out << text << "\n";
  if (!out) throw InputError(file.string() + ": cannot write");
}

}  // namespace pbench
