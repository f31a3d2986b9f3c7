// Content fingerprints for training inputs and model files.
//
// Thread safety: reentrant, no shared state. Failure: throws std::runtime_error if OpenSSL
// cannot compute the digest (it does not fail on valid input in practice).
#pragma once

#include <string>
#include <string_view>

namespace nbo::train {

// SHA-256 of `bytes` as 64 lowercase hex digits (OpenSSL EVP).
std::string sha256_hex(std::string_view bytes);

}  // namespace nbo::train
