#include "http/metrics.h"

#include <fmt/format.h>

#include <iterator>

namespace blobsync::http {

void Metrics::record_request(std::string_view route, int status, std::uint64_t bytes_in, std::uint64_t bytes_out) {
  bytes_in_.fetch_add(bytes_in, std::memory_order_relaxed);
  bytes_out_.fetch_add(bytes_out, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  auto key = std::pair<std::string_view, int>(route, status);
  if (auto it = requests_.find(key); it != requests_.end()) {
    ++it->second;
    return;
  }
  requests_.emplace(std::pair<std::string, int>(std::string(route), status), 1);
}

void Metrics::record_upload(double seconds) {
  std::lock_guard lock(mu_);
  std::size_t i = 0;
  while (i < kUploadBuckets.size() && seconds > kUploadBuckets[i]) ++i;
  ++upload_buckets_[i];
  upload_sum_ += seconds;
  ++upload_count_;
}

std::string Metrics::render(std::int64_t blob_count, std::int64_t blob_bytes) const {
  std::string out;
  fmt::format_to(std::back_inserter(out), "# HELP blobsync_http_requests_total HTTP requests by route and status.\n");
  fmt::format_to(std::back_inserter(out), "# TYPE blobsync_http_requests_total counter\n");
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : requests_)
      fmt::format_to(std::back_inserter(out), "blobsync_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
    fmt::format_to(std::back_inserter(out), "# HELP blobsync_upload_duration_seconds Time to receive and store an uploaded blob.\n");
    fmt::format_to(std::back_inserter(out), "# TYPE blobsync_upload_duration_seconds histogram\n");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kUploadBuckets.size(); ++i) {
      cumulative += upload_buckets_[i];
      fmt::format_to(std::back_inserter(out), "blobsync_upload_duration_seconds_bucket{{le=\"{}\"}} {}\n", kUploadBuckets[i], cumulative);
    }
    cumulative += upload_buckets_.back();
    fmt::format_to(std::back_inserter(out), "blobsync_upload_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    fmt::format_to(std::back_inserter(out), "blobsync_upload_duration_seconds_sum {}\n", upload_sum_);
    fmt::format_to(std::back_inserter(out), "blobsync_upload_duration_seconds_count {}\n", upload_count_);
  }
  fmt::format_to(std::back_inserter(out), "# HELP blobsync_http_received_bytes_total Request bytes received (bodies).\n");
  fmt::format_to(std::back_inserter(out), "# TYPE blobsync_http_received_bytes_total counter\n");
  fmt::format_to(std::back_inserter(out), "blobsync_http_received_bytes_total {}\n", bytes_in_.load());
  fmt::format_to(std::back_inserter(out), "# HELP blobsync_http_sent_bytes_total Response body bytes sent.\n");
  fmt::format_to(std::back_inserter(out), "# TYPE blobsync_http_sent_bytes_total counter\n");
  fmt::format_to(std::back_inserter(out), "blobsync_http_sent_bytes_total {}\n", bytes_out_.load());
  fmt::format_to(std::back_inserter(out), "# HELP blobsync_http_open_connections Connections currently open.\n");
  fmt::format_to(std::back_inserter(out), "# TYPE blobsync_http_open_connections gauge\n");
  fmt::format_to(std::back_inserter(out), "blobsync_http_open_connections {}\n", open_connections_.load());
  fmt::format_to(std::back_inserter(out), "# HELP blobsync_http_rejected_connections_total Connections refused over max_connections.\n");
  fmt::format_to(std::back_inserter(out), "# TYPE blobsync_http_rejected_connections_total counter\n");
  fmt::format_to(std::back_inserter(out), "blobsync_http_rejected_connections_total {}\n", rejected_connections_.load());
  fmt::format_to(std::back_inserter(out), "# HELP blobsync_gc_deleted_blobs_total Blobs deleted by garbage collection.\n");
  fmt::format_to(std::back_inserter(out), "# TYPE blobsync_gc_deleted_blobs_total counter\n");
  fmt::format_to(std::back_inserter(out), "blobsync_gc_deleted_blobs_total {}\n", gc_deleted_.load());
  if (blob_count >= 0) {
    fmt::format_to(std::back_inserter(out), "# HELP blobsync_blobs_stored Blobs in the store.\n");
    fmt::format_to(std::back_inserter(out), "# TYPE blobsync_blobs_stored gauge\n");
    fmt::format_to(std::back_inserter(out), "blobsync_blobs_stored {}\n", blob_count);
    fmt::format_to(std::back_inserter(out), "# HELP blobsync_blob_bytes_stored Bytes of blob content in the store.\n");
    fmt::format_to(std::back_inserter(out), "# TYPE blobsync_blob_bytes_stored gauge\n");
    fmt::format_to(std::back_inserter(out), "blobsync_blob_bytes_stored {}\n", blob_bytes);
  }
  for (const auto& source : sources_) out += source();
  return out;
}

void Metrics::add_source(std::function<std::string()> source) { sources_.push_back(std::move(source)); }

}  // namespace blobsync::http
