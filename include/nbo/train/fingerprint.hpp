// Content fingerprints for training inputs and model files.
//
// Thread safety: reentrant, no shared state. Failure: throws std::runtime_error if OpenSSL
// cannot compute the digest (it does not fail on valid input in practice).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace nbo::train {

// SHA-256 of `bytes` as 64 lowercase hex digits (OpenSSL EVP).
std::string sha256_hex(std::string_view bytes);

// SHA-256 of a file's bytes, hex. The trainers print it for their model file, so that two
// machines can compare what they wrote without copying the files. Throws std::runtime_error
// naming the file when it cannot be read.
std::string file_sha256_hex(const std::filesystem::path& file);

}  // namespace nbo::train
