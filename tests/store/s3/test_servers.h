// TestServer: S3 protocol servers that the S3 tests start and kill.
//
//   kFake    tests/store/s3/fake_s3.py: verifies every SigV4 signature and payload
//            hash, injects faults (see that file)
//   kS3rver  npm s3rver 3.7.1 (tests/node_modules), via s3rver_main.mjs
//   kMoto    moto_server, when installed (tests skip otherwise)
//
// Each server listens on 127.0.0.1 with a fresh port and keeps its data in a
// directory that survives kill() so restart() can reopen it (crash tests).
// Children die with the test process (PR_SET_PDEATHSIG).
//
// Thread safety: one thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "core/error.h"
#include "store/s3/s3_config.h"

namespace blobsync::s3::testing {

enum class ServerKind { kFake, kS3rver, kMoto };

const char* kind_name(ServerKind kind);
bool moto_available();

inline constexpr const char* kBucket = "blobsync-test";

class TestServer {
 public:
  // Starts a server with a new data directory.
  static Result<std::unique_ptr<TestServer>> start(ServerKind kind);
  ~TestServer();

  ServerKind kind() const { return kind_; }
  std::string endpoint() const;
  // Credentials, bucket and small limits for quick tests (part_size 64 KiB).
  S3Config config() const;

  // SIGKILL, and wait for the process.
  void kill();
  // Starts again on the same data directory (a new port).
  Result<> restart();

  // kFake only: control requests (see fake_s3.py).
  void fault(const std::string& query);
  void reset_faults();
  // The JSON of GET /__stats.
  std::string stats();

 private:
  TestServer(ServerKind kind, std::string dir) : kind_(kind), dir_(std::move(dir)) {}
  Result<> launch();

  ServerKind kind_;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A tiny unsigned HTTP request (control endpoints). Returns the body.
std::string http_request(const std::string& method, const std::string& url);

}  // namespace blobsync::s3::testing
