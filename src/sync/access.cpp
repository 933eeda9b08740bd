#include "sync/access.h"

#include <cctype>

namespace blobsync::sync {

namespace {

bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool listed(const std::vector<std::string>& list, std::string_view token) {
  bool found = false;
  for (const auto& t : list) found |= same(t, token);  // no early exit: constant time per list
  return found;
}

std::string_view bearer(std::string_view header) {
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

}  // namespace

Access decide_access(const SyncConfig& config, std::string_view query_token, std::string_view authorization) {
  if (config.tokens.empty() && config.read_only_tokens.empty()) return Access::kReadWrite;
  std::string_view token = query_token.empty() ? bearer(authorization) : query_token;
  if (token.empty()) return Access::kDenied;
  bool peer = !config.peer_token.empty() && same(config.peer_token, token);
  if (listed(config.tokens, token) || peer) return Access::kReadWrite;
  if (listed(config.read_only_tokens, token)) return Access::kReadOnly;
  return Access::kDenied;
}

}  // namespace blobsync::sync
