#include "http/gc_sweeper.h"

#include <spdlog/spdlog.h>

#include "http/metrics.h"
#include "http/repo_store.h"

namespace blobsync::http {

GcSweeper::GcSweeper(RepoStore& repo, Metrics& metrics, std::chrono::seconds interval, std::chrono::seconds grace)
    : repo_(repo), metrics_(metrics), interval_(interval), grace_(grace) {
  if (interval_.count() > 0) thread_ = std::thread([this] { loop(); });
}

GcSweeper::~GcSweeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GcSweeper::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, interval_, [this] { return stop_; })) return;
    lock.unlock();
    auto report = repo_.gc(grace_);
    if (!report) {
      spdlog::error("gc: {}", report.error().to_string());
    } else {
      metrics_.gc_deleted(report->blobs_deleted);
      if (report->blobs_deleted || report->claims_dropped)
        spdlog::info("gc: deleted {} blobs ({} bytes), dropped {} expired upload claims", report->blobs_deleted,
                     report->bytes_deleted, report->claims_dropped);
    }
    lock.lock();
  }
}

}  // namespace blobsync::http
