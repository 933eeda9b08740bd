#include "core/blob_id.h"

#include <array>

#include "core/base32.h"

namespace blobsync {

namespace {
constexpr char kHex[] = "0123456789abcdef";
// CIDv1 header for a raw-codec sha2-256 multihash of 32 bytes.
constexpr std::array<std::uint8_t, 4> kCidPrefix = {0x01, 0x55, 0x12, 0x20};
constexpr std::string_view kRefPrefix = "sha256:";

int hex_value(char c, bool allow_upper) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (allow_upper && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_hex(std::string_view hex, Digest& out, bool allow_upper) {
  if (hex.size() != 64) return false;
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = hex_value(hex[2 * i], allow_upper), lo = hex_value(hex[2 * i + 1], allow_upper);
    if (hi < 0 || lo < 0) return false;
    out.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string shorten(std::string_view s) {
  if (s.size() <= 80) return std::string(s);
  return std::string(s.substr(0, 77)) + "...";
}

Result<Digest> parse_cid(std::string_view text) {
  if (text.size() < 2 || text[0] != 'b')
    return fail(Errc::kInvalidArgument, "invalid CID '{}': expected base32 multibase prefix 'b'", shorten(text));
  auto bytes = base32::decode_lower(text.substr(1));
  if (!bytes) return fail(Errc::kInvalidArgument, "invalid CID '{}': not lowercase base32", shorten(text));
  if (bytes->size() < 4 || (*bytes)[0] != 0x01)
    return fail(Errc::kInvalidArgument, "invalid CID '{}': not a CIDv1", shorten(text));
  if ((*bytes)[1] != 0x55)
    return fail(Errc::kInvalidArgument, "invalid CID '{}': codec is not raw (0x55); blobs use raw CIDs", shorten(text));
  if ((*bytes)[2] != 0x12 || (*bytes)[3] != 0x20)
    return fail(Errc::kInvalidArgument, "invalid CID '{}': multihash is not sha2-256", shorten(text));
  if (bytes->size() != 36)
    return fail(Errc::kInvalidArgument, "invalid CID '{}': digest is not 32 bytes", shorten(text));
  Digest d;
  std::copy(bytes->begin() + 4, bytes->end(), d.bytes.begin());
  return d;
}
}  // namespace

std::string Digest::hex() const {
  std::string out(64, '0');
  for (std::size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

bool parse_hex_digest(std::string_view hex, Digest& out) { return parse_hex(hex, out, true); }

std::string to_hash_ref(const Digest& d) { return std::string(kRefPrefix) + d.hex(); }

std::string to_cid(const Digest& d) {
  std::array<std::uint8_t, 36> raw{};
  std::copy(kCidPrefix.begin(), kCidPrefix.end(), raw.begin());
  std::copy(d.bytes.begin(), d.bytes.end(), raw.begin() + 4);
  return "b" + base32::encode_lower(raw);
}

Result<Digest> parse_blob_id(std::string_view text) {
  if (text.starts_with(kRefPrefix)) {
    Digest d;
    if (!parse_hex(text.substr(kRefPrefix.size()), d, false))
      return fail(Errc::kInvalidArgument, "invalid blob hash '{}': expected sha256: followed by 64 lowercase hex digits",
                  shorten(text));
    return d;
  }
  if (text.starts_with("b")) return parse_cid(text);
  if (text.empty()) return fail(Errc::kInvalidArgument, "empty blob id");
  return fail(Errc::kInvalidArgument, "invalid blob id '{}': expected sha256:<hex> or a bafkrei... CID", shorten(text));
}

Result<Digest> parse_blob_id_or_hex(std::string_view text) {
  Digest d;
  if (text.size() == 64 && parse_hex(text, d, false)) return d;
  return parse_blob_id(text);
}

}  // namespace blobsync
