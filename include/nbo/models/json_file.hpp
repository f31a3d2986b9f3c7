// Reading and writing the JSON files of the models directory (the churn model, the segments, the
// offers model), so every format reports an unreadable file the same way and is written
// atomically.
//
// Thread safety: reentrant. Failure: read_json_file throws ModelLoadError; write_json_file
// throws std::runtime_error or std::filesystem::filesystem_error.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace nbo::models {

// Raised when a model file cannot be used; the message names the file and the problem.
class ModelLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The parsed document of `file`. Throws ModelLoadError "<what> <file>: cannot be opened (...)",
// "<what> <file>: cannot be read (...)" (a directory, an I/O error) or "<what> <file>: not valid
// JSON: ..." (`what` is e.g. "model file").
nlohmann::json read_json_file(const std::filesystem::path& file, std::string_view what);

// Writes `document` pretty-printed (2 spaces, trailing newline) to a temporary file beside
// `file`, then renames it over `file`, creating the parent directories; readers never see a
// half-written file.
void write_json_file(const nlohmann::json& document, const std::filesystem::path& file,
                     std::string_view what);

}  // namespace nbo::models
