#include "core/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstdio>

namespace blobsync {

namespace {
// EVP_sha256() is looked up once; fetching per-instance costs a lock in OpenSSL 3.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
[[noreturn]] void die(const char* what) {
  // Only reachable if OpenSSL itself is broken (allocation failure inside EVP).
  std::fprintf(stderr, "fatal: OpenSSL %s failed\n", what);
  std::abort();
}
}  // namespace

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx || EVP_DigestInit_ex2(impl_->ctx, sha256_md(), nullptr) != 1) die("digest init");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t len) {
  if (len && EVP_DigestUpdate(impl_->ctx, data, len) != 1) die("digest update");
}
void Sha256::update(std::span<const std::byte> data) { update(data.data(), data.size()); }

Digest Sha256::finish() {
  Digest d;
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, d.bytes.data(), &n) != 1 || n != 32) die("digest final");
  if (EVP_DigestInit_ex2(impl_->ctx, nullptr, nullptr) != 1) die("digest reinit");
  return d;
}

Digest Sha256::of(const void* data, std::size_t len) {
  Digest d;
  unsigned int n = 0;
  if (EVP_Digest(data, len, d.bytes.data(), &n, sha256_md(), nullptr) != 1) die("digest");
  return d;
}
Digest Sha256::of(std::span<const std::byte> data) { return of(data.data(), data.size()); }

}  // namespace blobsync
