#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace blobsync {

namespace {
constexpr std::uint64_t kMinBytesForBar = 8 << 20;
}

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(::isatty(STDERR_FILENO) == 1 && (total == 0 || total >= kMinBytesForBar)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t done) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done != total_) return;
  last_draw_ = now;
  drawn_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  double mib = static_cast<double>(done) / (1 << 20);
  double rate = secs > 0 ? mib / secs : 0;
  if (total_ > 0) {
    int width = 30;
    int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total_) * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(static_cast<std::size_t>(width), '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %.1f MiB %.0f MiB/s ", label_.c_str(), bar.c_str(),
                 static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total_)), mib, rate);
  } else {
    std::fprintf(stderr, "\r%s %.1f MiB %.0f MiB/s ", label_.c_str(), mib, rate);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && drawn_) std::fputc('\n', stderr);
  drawn_ = false;
  enabled_ = false;
}

}  // namespace blobsync
