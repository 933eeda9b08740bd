#include "http/access_log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

#include "http/http_types.h"

namespace blobsync::http {

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& spec) {
  auto log = std::make_unique<AccessLog>();
  if (spec == "off") return log;
  static std::atomic<int> seq{0};
  std::string name = "access" + std::to_string(seq++);
  try {
    if (spec == "stderr") log->logger_ = spdlog::stderr_logger_mt(name);
    else if (spec == "stdout") log->logger_ = spdlog::stdout_logger_mt(name);
    else log->logger_ = spdlog::basic_logger_mt(name, spec);
  } catch (const spdlog::spdlog_ex& e) {
    return fail(Errc::kIOError, "cannot open access log {}: {}", spec, e.what());
  }
  log->logger_->set_pattern("%v");
  log->logger_->flush_on(spdlog::level::info);
  return log;
}

void AccessLog::log(const AccessEntry& e) {
  if (!logger_) return;
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string did = e.did.empty() ? std::string() : fmt::format(",\"did\":{}", json_quote(e.did));
  logger_->info(
      R"({{"ts":"{}.{:03}Z","remote":{},"method":{},"path":{},"route":{},"status":{},"in":{},"out":{},"ms":{:.2f}{}}})",
      ts, ms % 1000, json_quote(e.remote), json_quote(e.method), json_quote(e.path), json_quote(e.route), e.status,
      e.bytes_in, e.bytes_out, e.ms, did);
}

}  // namespace blobsync::http
