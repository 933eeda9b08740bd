#include "http/run.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <vector>

#include "http/access_log.h"
#include "core/blob_id.h"
#include "http/gc_sweeper.h"
#include "http/http_types.h"
#include "http/router.h"
#include "http/server.h"
#include "http/systemd.h"
#include "http/api.h"
#include "store/blob_lifecycle.h"
#include "store/scrubber.h"

namespace blobsync::http {

namespace {
std::vector<ServeExtension>& extensions() {
  static std::vector<ServeExtension> v;
  return v;
}
}  // namespace

void add_serve_extension(ServeExtension ext) { extensions().push_back(std::move(ext)); }

Result<ServerConfig> load_config(const ConfigSources& sources) {
  std::vector<ConfigValues> layers;
  layers.push_back(sources.defaults);
  if (sources.config_file) {
    auto toml = read_toml_config(*sources.config_file);
    if (!toml) return std::unexpected(toml.error());
    layers.push_back(std::move(*toml));
  }
  layers.push_back(read_env_config());
  layers.push_back(sources.flags);
  return build_config(layers);
}

Result<> run_server(const ServerConfig& config) {
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  auto api = Api::open(config);
  if (!api) return std::unexpected(api.error());
  Router router;
  (*api)->register_routes(router);
  auto log = AccessLog::open(config.access_log);
  if (!log) return std::unexpected(log.error());
  Server server(config, router, (*api)->metrics, **log);
  auto addr = server.listen();
  if (!addr) return std::unexpected(addr.error());
  std::vector<ExtensionHandle> handles;
  for (auto& ext : extensions()) {
    auto h = ext(server, router, **api, config, *addr);
    if (!h) return std::unexpected(h.error());
    handles.push_back(std::move(*h));
  }
  std::printf("listening on %s\n", addr->c_str());
  std::fflush(stdout);
  spdlog::info("blobsync serving {} on {}", config.data_dir.string(), *addr);
  ScrubOptions scrub;
  scrub.rate = config.scrub_rate;
  scrub.interval = config.scrub_interval;
  scrub.state_file = config.data_dir / "scrub.state";
  std::vector<std::function<void(const Digest&)>> heals;
  for (const auto& h : handles)
    if (h.heal) heals.push_back(h.heal);
  if (!heals.empty())
    scrub.heal = [heals](const Digest& hash) {
      for (const auto& heal : heals) heal(hash);
    };
  // Stopped (scope end) before the extensions' stop hooks: its heal calls into them.
  Scrubber scrubber(*(*api)->store, std::move(scrub));
  (*api)->metrics.add_source([&scrubber] { return scrubber.render_metrics(); });
  Result<> result;
  {
    GcSweeper sweeper(*(*api)->lifecycle, (*api)->metrics, config.gc_interval, config.gc_grace);
    scrubber.start();
    systemd::notify_ready(fmt::format("serving {} on {}", config.data_dir.string(), *addr));
    result = server.run();
    scrubber.stop();
  }
  for (auto& h : handles)
    if (h.after_stop) h.after_stop();
  spdlog::info("server stopped");
  return result;
}

Result<> run_gc(const ServerConfig& config, const GcRun& run) {
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  auto api = Api::open(config);
  if (!api) return std::unexpected(api.error());
  auto& lifecycle = *(*api)->lifecycle;
  if (run.withdraw) lifecycle.set_withdraw(run.withdraw);
  SweepOptions options;
  options.grace = config.gc_grace;
  options.dry_run = run.dry_run;
  options.on_step = crash_at_step_from_env();
  auto report = lifecycle.sweep(options);
  if (!report) return std::unexpected(report.error());
  for (const auto& e : report->collected)
    std::printf("%s\n", fmt::format(R"({{"hash":{},"size":{},"why":{}}})", json_quote(to_hash_ref(e.hash)), e.size,
                                    json_quote(e.why))
                            .c_str());
  std::printf("%s\n", fmt::format(R"({{"dryRun":{},"blobsDeleted":{},"bytesDeleted":{},"released":{},"deferred":{},)"
                                  R"("claimsDropped":{}}})",
                                  run.dry_run, report->blobs_deleted, report->bytes_deleted, report->released,
                                  report->deferred, (*api)->repo->claims_dropped())
                          .c_str());
  return {};
}

}  // namespace blobsync::http
