#include "nbo/models/json_file.hpp"

#include <fmt/format.h>

#include <fstream>
#include <system_error>

#include "nbo/platform/files.hpp"

namespace nbo::models {

nlohmann::json read_json_file(const std::filesystem::path& file, std::string_view what) {
  std::string text;
  if (const auto error = platform::read_whole_file(file, text)) {
    throw ModelLoadError(fmt::format("{} {}: {}", what, file.string(), error->describe()));
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw ModelLoadError(
        fmt::format("{} {}: not valid JSON: {}", what, file.string(), error.what()));
  }
}

void write_json_file(const nlohmann::json& document, const std::filesystem::path& file,
                     std::string_view what) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  const auto temporary = std::filesystem::path(file.string() + ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << document.dump(2) << '\n';
    if (!out.flush()) {
      throw std::runtime_error(fmt::format("cannot write {} {}", what, temporary.string()));
    }
  }
  std::filesystem::rename(temporary, file);
}

}  // namespace nbo::models
