// DialPolicy: which servers the mesh may connect to, and which token it
// presents to each (docs/protocol.md, "Server to server", "Who a server
// dials"). Holder URLs in `_blobRegistry` are written by clients, so they
// are never trusted: the mesh dials only
//   - configured peers (`peers`), presenting `peer_token`;
//   - holders whose URL lies under a `mesh_allow` prefix, presenting no token;
// and ignores every other holder (no fetch, no probe, no pruning).
//
// URLs are compared in a canonical form (CanonicalUrl): scheme (ws or wss)
// and host lower-cased, port numeric (80, or 443 for wss, by default), path split into segments with
// trailing slashes dropped. Anything ambiguous is refused rather than
// normalised: userinfo (`ws://peer@evil/`), query, fragment, percent
// escapes, `.`/`..` or empty path segments, characters outside the URL
// alphabet. A prefix matches on whole components: equal scheme (a ws://
// prefix never admits a wss:// holder, nor the reverse), equal host, equal port,
// and leading path segments, so `ws://h:400` does not cover `ws://h:4001`
// nor `ws://h/sync` cover `ws://h/syncx`.
//
// Thread safety: canonical_ws_url and within are pure. A DialPolicy is
// immutable after create() except for its refusal log, which is guarded by
// a mutex: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace blobsync::mesh {

struct CanonicalUrl {
  bool tls = false;                  // wss://
  std::string host;                  // lower case; IPv6 without brackets
  std::uint16_t port = 80;
  std::vector<std::string> path;     // "/sync/x/" -> {"sync", "x"}
  std::string str() const;           // ws://host:port/seg/seg or wss://...
  bool operator==(const CanonicalUrl&) const = default;
};

// Errors: kInvalidArgument (not a plain ws:// or wss:// URL, or ambiguous as
// above).
Result<CanonicalUrl> canonical_ws_url(std::string_view text);

// True when `url` is `prefix` or lies below it, component by component.
bool within(const CanonicalUrl& prefix, const CanonicalUrl& url);

class DialPolicy {
 public:
  enum class Kind { kSelf, kPeer, kAllowed, kRefused };
  struct Target {
    Kind kind = Kind::kRefused;
    std::string url;    // what to dial: a peer as configured, an allowed holder in canonical form
    std::string token;  // presented on connect: peer_token for peers, none otherwise
  };

  // self: this server's own URL (SyncConfig::url); peers and allow as
  // configured. Errors: kInvalidArgument naming the peer or prefix that is
  // not a canonical ws:// or wss:// URL.
  static Result<std::shared_ptr<DialPolicy>> create(const std::string& self, const std::vector<std::string>& peers,
                                                    const std::vector<std::string>& allow, std::string peer_token);

  // Configured peers, this server and duplicates (by canonical URL) left out.
  const std::vector<std::string>& peers() const { return peers_; }
  const std::string& peer_token() const { return peer_token_; }

  // Pure: what `holder` (a registry holder URL) is to this server.
  Target classify(std::string_view holder) const;
  // The holders this server may dial, as dial URLs, deduplicated; self and
  // refused holders dropped. Each refused URL is logged once (the first
  // kMaxLogged distinct ones) and counted.
  std::vector<std::string> admit(const std::vector<std::string>& holders) const;
  // Distinct holder URLs refused so far (saturates at kMaxLogged).
  std::size_t refused() const;

  static constexpr std::size_t kMaxLogged = 1024;

 private:
  DialPolicy() = default;
  void note_refused(const std::string& holder) const;

  std::string self_;
  std::optional<CanonicalUrl> self_canonical_;
  std::vector<std::string> peers_;
  std::vector<CanonicalUrl> peer_canonical_;  // parallel to peers_
  std::vector<CanonicalUrl> allow_;
  std::string peer_token_;

  mutable std::mutex mu_;
  mutable std::set<std::string> refused_;  // guarded by mu_
};

}  // namespace blobsync::mesh
