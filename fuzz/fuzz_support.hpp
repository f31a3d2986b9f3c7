// What the fuzz targets share: a private scratch directory for the loaders that read files, and
// the splitting of one input into the several files of an export.
//
// Every target defines LLVMFuzzerTestOneInput (and, when it needs set-up, LLVMFuzzerInitialize).
// Built with -DNBO_FUZZ=ON (clang, scripts/build.sh fuzz) they are libFuzzer binaries; in the
// ordinary test build the same sources are linked with replay_main.cpp, which feeds them every
// committed seed and regression input (ctest -L fuzz). A finding is a sanitizer report, an
// exception the code under test does not document, or a broken invariant (std::abort via
// fuzz_check).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/models/json_file.hpp"

namespace nbo::fuzz {

// Aborts with `what` when `condition` fails: an invariant the code promises broke on this input.
inline void fuzz_check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

// A directory of this process, removed when the object goes (at exit for a static one). In
// /dev/shm when there is one: the loaders under test read real files, and a target writes them
// once per input.
class ScratchDir {
 public:
  ScratchDir() {
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
            ? std::filesystem::path("/dev/shm")
            : std::filesystem::temp_directory_path();
    std::string pattern = (base / "nbo-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// The input as `count` files: the parts between NUL bytes (a NUL never belongs to a CSV export
// the targets feed, so mutations keep the files apart); missing parts are empty, extra ones are
// appended to the last file.
inline std::vector<std::string_view> split_files(const std::uint8_t* data, std::size_t size,
                                                 std::size_t count) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> files(count);
  std::size_t start = 0;
  for (std::size_t i = 0; i < count && start <= input.size(); ++i) {
    const std::size_t end = i + 1 == count ? input.npos : input.find('\0', start);
    files[i] = input.substr(start, end == input.npos ? input.npos : end - start);
    if (end == input.npos) break;
    start = end + 1;
  }
  return files;
}

// The input written as the model file `name` in `dir` and given to `load` (a model loader taking
// the file's path): what it returns, or null when it refuses the file with ModelLoadError, the
// one failure a model loader documents.
template <class Load>
auto load_model_input(const ScratchDir& dir, std::string_view name, const std::uint8_t* data,
                      std::size_t size, Load load) -> decltype(load(dir / name)) {
  const auto file = dir / name;
  write_file(file, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    return load(file);
  } catch (const models::ModelLoadError&) {
    return nullptr;
  }
}

// The input split into the export files `names` (split_files()), written to `dir`.
inline void write_export_files(const ScratchDir& dir, std::span<const std::string_view> names,
                               const std::uint8_t* data, std::size_t size) {
  const auto files = split_files(data, size, names.size());
  for (std::size_t i = 0; i < names.size(); ++i) write_file(dir / names[i], files[i]);
}

// The committed example customers (tests/fixtures/api), read once, to score with each model a
// target loads: a file that loads must also score.
std::vector<features::RawCustomer> fixture_customers();

}  // namespace nbo::fuzz
