#include "nbo/train/fingerprint.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

#include "nbo/platform/files.hpp"

namespace nbo::train {

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("sha256_hex: OpenSSL EVP_Digest failed");
  }
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0F]);
  }
  return out;
}

std::string file_sha256_hex(const std::filesystem::path& file) {
  std::string bytes;
  if (const auto error = platform::read_whole_file(file, bytes)) {
    throw std::runtime_error("cannot hash " + file.string() + ": it " + error->describe());
  }
  return sha256_hex(bytes);
}

}  // namespace nbo::train
