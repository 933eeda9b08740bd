// s3_bench: upload and download throughput of the S3 blob backend.
//
//   s3_bench ENDPOINT BUCKET FILE [RUNS] [PART_SIZE]
//
// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Each run
// uploads FILE through S3Backend's writer (read in 1 MiB pieces, as
// BlobStore feeds it; the digest is computed beforehand, as BlobStore's
// ingest pipeline does it while streaming), removing the blob before each:
//   put_s      digest and size known up front (PUT /blobs/<hash> with a
//              Content-Length, migrate): create_writer_sized(digest, size),
//              one streamed PutObject straight to blobs/<hex>
//   put_tmp_s  size known, digest not (uploadBlob, `blobsync put`):
//              create_writer_sized(nullopt, size), one streamed PutObject to
//              tmp/, then a server-side copy
//   put_mp_s   digest known, size not (replication, blob channel):
//              create_writer(digest): parallel multipart to blobs/<hex>
//   put_mp_tmp_s  neither (chunked uploads, stdin): create_writer():
//              multipart to tmp/, complete, server-side copy
// Each timed transfer starts after sync(2), with its target key deleted.
// then downloads it the way BlobStore::open does (open_sized: no HEAD) into a
// 1 MiB buffer that is thrown away. Prints one line per run:
//   run N put_tmp_s T put_mp_s T put_mp_tmp_s T put_s T get_s T
// bench/s3.sh compares these with curl doing the same transfers.
// Env S3_BENCH_OPS (default "put,put_tmp,put_mp,put_mp_tmp,get") picks the measurements
// (for profiling one path).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "store/s3/s3_backend.h"

using namespace blobsync;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "s3_bench: %s\n", what.c_str());
  std::exit(1);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) die("usage: s3_bench ENDPOINT BUCKET FILE [RUNS] [PART_SIZE]");
  s3::S3Config config;
  config.endpoint = argv[1];
  config.bucket = argv[2];
  config.path_style = true;
  std::string file = argv[3];
  int runs = argc > 4 ? std::atoi(argv[4]) : 3;
  if (argc > 5) config.part_size = std::strtoull(argv[5], nullptr, 10);
  auto backend = s3::S3Backend::connect(config);
  if (!backend) die(backend.error().to_string());

  constexpr std::size_t kPiece = 1 << 20;
  std::vector<std::byte> buf(kPiece);
  Sha256 hasher;
  std::uint64_t size = 0;
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) die("cannot open " + file);
    while (in.read(reinterpret_cast<char*>(buf.data()), kPiece) || in.gcount() > 0) {
      hasher.update(buf.data(), static_cast<std::size_t>(in.gcount()));
      size += static_cast<std::uint64_t>(in.gcount());
    }
  }
  Digest digest = hasher.finish();

  auto upload = [&](std::optional<Digest> expected, bool sized) {
    if (auto r = (*backend)->remove(digest); !r) die(r.error().to_string());
    ::sync();  // every timed transfer starts without dirty pages to write back (bench/s3.sh does the same for curl)
    auto t0 = std::chrono::steady_clock::now();
    std::ifstream in(file, std::ios::binary);
    auto w = sized ? (*backend)->create_writer_sized(expected, size) : (*backend)->create_writer(expected);
    if (!w) die(w.error().to_string());
    while (in.read(reinterpret_cast<char*>(buf.data()), kPiece) || in.gcount() > 0) {
      auto r = (*w)->append(std::span(buf).first(static_cast<std::size_t>(in.gcount())));
      if (!r) die(r.error().to_string());
    }
    if (auto r = (*w)->commit(digest); !r) die(r.error().to_string());
    return seconds_since(t0);
  };
  const char* ops_env = std::getenv("S3_BENCH_OPS");
  std::string ops = "," + std::string(ops_env ? ops_env : "put,put_tmp,put_mp,put_mp_tmp,get") + ",";
  auto want = [&](const char* op) { return ops.find("," + std::string(op) + ",") != std::string::npos; };
  for (int run = 1; run <= runs; ++run) {
    std::printf("run %d", run);
    if (want("put_tmp")) std::printf(" put_tmp_s %.4f", upload(std::nullopt, true));
    if (want("put_mp")) std::printf(" put_mp_s %.4f", upload(digest, false));
    if (want("put_mp_tmp")) std::printf(" put_mp_tmp_s %.4f", upload(std::nullopt, false));
    if (want("put")) std::printf(" put_s %.4f", upload(digest, true));
    if (want("get")) {
      ::sync();
      auto t1 = std::chrono::steady_clock::now();
      auto reader = (*backend)->open_sized(digest, size);
      if (!reader) die(reader.error().to_string());
      std::uint64_t got = 0;
      for (;;) {
        auto n = (*reader)->read(buf);
        if (!n) die(n.error().to_string());
        if (*n == 0) break;
        got += *n;
      }
      double get_s = seconds_since(t1);
      if (got != size) die("downloaded " + std::to_string(got) + " of " + std::to_string(size) + " bytes");
      std::printf(" get_s %.4f", get_s);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
