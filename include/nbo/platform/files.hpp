// Whole-file reads for the areas that load a file at start-up or from the command line: models,
// migrations, CSV exports, the cgroup files. Each caller words its own failure (a model that
// cannot load, a migration, a CSV, a cgroup file that may well be absent), so the reader returns
// what went wrong instead of throwing.
//
// Thread safety: reentrant; no state. Failure behaviour: returns the failed step and errno's
// reason; throws only std::bad_alloc (or std::length_error for a file larger than a string).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

namespace nbo::platform {

// Why a whole-file read failed.
struct FileReadError {
  bool opening = true;     // true: open() failed; false: it opened and a read failed
  std::error_code reason;  // errno's reason: no such file, permission denied, is a directory...

  // "cannot be opened (No such file or directory)" or "cannot be read (Is a directory)".
  std::string describe() const;
};

// Replaces `content` with every byte of `file`, read in binary (no newline translation);
// nullopt on success. On failure `content` holds what was read before it (nothing for an open
// failure). A directory opens and then fails its first read, with "Is a directory".
std::optional<FileReadError> read_whole_file(const std::filesystem::path& file,
                                             std::string& content);

}  // namespace nbo::platform
