// AccessLog: one JSON line per HTTP request (spdlog, asynchronous-safe).
//
//   {"ts":"2025-01-01T00:00:00.123Z","remote":"127.0.0.1:5555","method":"POST",
//    "path":"/xrpc/com.atproto.repo.uploadBlob","route":"com.atproto.repo.uploadBlob",
//    "status":200,"in":1234,"out":210,"ms":3.2,"did":"did:plc:..."}
//
// Thread safety: log() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace spdlog {
class logger;
}

namespace blobsync::http {

struct AccessEntry {
  std::string_view remote, method, path, route, did;
  int status = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  double ms = 0;
};

class AccessLog {
 public:
  // spec: "stderr", "stdout", "off" or a file path (appended to).
  static Result<std::unique_ptr<AccessLog>> open(const std::string& spec);
  void log(const AccessEntry& e);

 private:
  std::shared_ptr<spdlog::logger> logger_;  // null when off
};

}  // namespace blobsync::http
