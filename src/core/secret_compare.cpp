#include "core/secret_compare.h"

#include <openssl/crypto.h>

#include <cctype>

#include "core/sha256.h"

namespace blobsync {

bool secrets_equal(std::string_view a, std::string_view b) {
  auto da = Sha256::of(a.data(), a.size());
  auto db = Sha256::of(b.data(), b.size());
  return CRYPTO_memcmp(da.bytes.data(), db.bytes.data(), da.bytes.size()) == 0;
}

std::string_view bearer_token(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.size() < 7) return {};
  for (std::size_t i = 0; i < 6; ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != "bearer"[i]) return {};
  if (header[6] != ' ') return {};
  header.remove_prefix(7);
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  return header;
}

}  // namespace blobsync
