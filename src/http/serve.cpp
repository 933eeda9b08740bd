#include "http/serve.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <vector>

#include "http/access_log.h"
#include "http/gc_sweeper.h"
#include "http/router.h"
#include "http/server.h"
#include "http/service.h"
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
  auto service = Service::open(config);
  if (!service) return std::unexpected(service.error());
  Router router;
  (*service)->register_routes(router);
  auto log = AccessLog::open(config.access_log);
  if (!log) return std::unexpected(log.error());
  Server server(config, router, (*service)->metrics, **log);
  auto addr = server.listen();
  if (!addr) return std::unexpected(addr.error());
  std::vector<ExtensionHandle> handles;
  for (auto& ext : extensions()) {
    auto h = ext(server, router, **service, config, *addr);
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
  Scrubber scrubber(*(*service)->store, std::move(scrub));
  (*service)->metrics.add_source([&scrubber] { return scrubber.render_metrics(); });
  Result<> result;
  {
    GcSweeper sweeper(*(*service)->repo, (*service)->metrics, config.gc_interval, config.gc_grace);
    scrubber.start();
    result = server.run();
    scrubber.stop();
  }
  for (auto& h : handles)
    if (h.after_stop) h.after_stop();
  spdlog::info("server stopped");
  return result;
}

Result<> run_gc(const ServerConfig& config) {
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  auto service = Service::open(config);
  if (!service) return std::unexpected(service.error());
  auto report = (*service)->repo->gc(config.gc_grace);
  if (!report) return std::unexpected(report.error());
  std::printf("{\"blobsDeleted\":%llu,\"bytesDeleted\":%llu,\"claimsDropped\":%llu}\n",
              static_cast<unsigned long long>(report->blobs_deleted),
              static_cast<unsigned long long>(report->bytes_deleted),
              static_cast<unsigned long long>(report->claims_dropped));
  return {};
}

}  // namespace blobsync::http
