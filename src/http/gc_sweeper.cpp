#include "http/gc_sweeper.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

#include "http/metrics.h"
#include "store/blob_lifecycle.h"

namespace blobsync::http {

std::function<void(std::string_view)> crash_at_step_from_env() {
  const char* at = std::getenv("BLOBSYNC_TEST_CRASH_AT");
  if (!at || !*at) return {};
  return [target = std::string(at)](std::string_view step) {
    if (step != target) return;
    spdlog::warn("gc: BLOBSYNC_TEST_CRASH_AT={}: exiting as a crash would", target);
    spdlog::default_logger()->flush();
    ::_exit(86);
  };
}

GcSweeper::GcSweeper(BlobLifecycle& lifecycle, Metrics& metrics, std::chrono::seconds interval,
                     std::chrono::seconds grace)
    : lifecycle_(lifecycle), metrics_(metrics), interval_(interval), grace_(grace) {
  if (interval_.count() > 0) thread_ = std::thread([this] { loop(); });
}

GcSweeper::~GcSweeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GcSweeper::loop() {
  SweepOptions options;
  options.grace = grace_;
  options.on_step = crash_at_step_from_env();
  options.stop_requested = [this] { return stopping_.load(); };
  std::unique_lock lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, interval_, [this] { return stop_; })) return;
    lock.unlock();
    auto report = lifecycle_.sweep(options);
    if (!report) {
      spdlog::error("gc: {}", report.error().to_string());
    } else {
      metrics_.gc_deleted(report->blobs_deleted);
      if (report->blobs_deleted || report->released || report->deferred)
        spdlog::info("gc: deleted {} blobs ({} bytes); {} found unheld; {} deferred", report->blobs_deleted,
                     report->bytes_deleted, report->released, report->deferred);
    }
    lock.lock();
  }
}

}  // namespace blobsync::http
