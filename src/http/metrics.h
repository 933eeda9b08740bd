// Metrics: the counters behind GET /metrics (Prometheus text format 0.0.4).
//
// Requests by route and status, bytes in and out, connections, and the upload
// latency histogram are kept here; blob count and bytes stored are the
// store's running totals (SqlMetadata's blob_totals: a few rows, no scan),
// read at scrape time and passed to render().
//
// Thread safety: every method is safe to call from any thread.
#pragma once

#include <functional>
#include <vector>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace blobsync::http {

class Metrics {
 public:
  void record_request(std::string_view route, int status, std::uint64_t bytes_in, std::uint64_t bytes_out);
  // A completed upload (uploadBlob or PUT /blobs): wall time from the request
  // head to the response.
  void record_upload(double seconds);
  void connection_opened() { open_connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { open_connections_.fetch_sub(1, std::memory_order_relaxed); }
  void connection_rejected() { rejected_connections_.fetch_add(1, std::memory_order_relaxed); }
  void gc_deleted(std::uint64_t blobs) { gc_deleted_.fetch_add(blobs, std::memory_order_relaxed); }

  std::int64_t open_connections() const { return open_connections_.load(std::memory_order_relaxed); }

  // blob_count/blob_bytes < 0: not available.
  std::string render(std::int64_t blob_count, std::int64_t blob_bytes) const;

  // Another component's lines (e.g. the mesh's per-peer state), appended to
  // every scrape. REQUIRES: called before the server runs.
  void add_source(std::function<std::string()> source);

  static constexpr std::array<double, 12> kUploadBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10,  30};

 private:
  // Ordered by route then status; compares with a (string_view, int) key
  // too, so counting a request builds no string.
  struct RouteLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      int c = std::string_view(a.first).compare(std::string_view(b.first));
      return c < 0 || (c == 0 && a.second < b.second);
    }
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t, RouteLess> requests_;  // guarded by mu_
  std::array<std::uint64_t, kUploadBuckets.size() + 1> upload_buckets_{};  // guarded by mu_; last is +Inf
  double upload_sum_ = 0;                                                  // guarded by mu_
  std::uint64_t upload_count_ = 0;                                         // guarded by mu_
  std::atomic<std::uint64_t> bytes_in_{0}, bytes_out_{0};
  std::atomic<std::int64_t> open_connections_{0};
  std::atomic<std::uint64_t> rejected_connections_{0}, gc_deleted_{0};
  std::vector<std::function<std::string()>> sources_;  // fixed once serving
};

}  // namespace blobsync::http
