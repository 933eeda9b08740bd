#include "cli/token_command.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_context.h"
#include "http/config.h"
#include "http/run.h"
#include "http/secret_file.h"
#include "sync/room_token.h"

namespace blobsync {

namespace {

struct TokenFlags {
  std::string config;
  std::vector<std::string> rooms;
  bool read_only = false;
  std::string ttl = "24h";
  std::string sub;
  std::string quota;
};

void run_create(const CLI::App& cmd, CliContext& ctx, const TokenFlags& f) {
  auto ttl = http::parse_duration(f.ttl);
  if (!ttl) return ctx.fail_with(fmt::format("--ttl: {}", ttl.error().message), kExitUsage);
  if (ttl->count() <= 0) return ctx.fail_with("--ttl must be longer than 0s", kExitUsage);
  if (f.rooms.size() > sync::kMaxRoomPatterns)
    return ctx.fail_with(fmt::format("at most {} --room patterns", sync::kMaxRoomPatterns), kExitUsage);
  for (const auto& r : f.rooms)
    if (r.empty() || r.size() > sync::kMaxRoomPatternBytes)
      return ctx.fail_with(fmt::format("--room '{}' must be 1 to {} bytes", r, sync::kMaxRoomPatternBytes), kExitUsage);

  if (f.sub.size() > sync::kMaxSubjectBytes)
    return ctx.fail_with(fmt::format("--sub must be at most {} bytes", sync::kMaxSubjectBytes), kExitUsage);
  std::optional<std::uint64_t> quota;
  if (!f.quota.empty()) {
    auto q = http::parse_size(f.quota);
    if (!q) return ctx.fail_with(fmt::format("--quota: {}", q.error().message), kExitUsage);
    quota = *q;
  }

  // The same sources as `serve` (TOML, BLOBSYNC_* environment, --data), so
  // the key is the one the server with this config uses.
  http::ConfigSources s;
  if (!f.config.empty()) s.config_file = f.config;
  s.defaults["data"] = ctx.data_dir.string();
  const CLI::App* root = &cmd;
  while (root->get_parent()) root = root->get_parent();
  if (root->count("--data") > 0) s.flags["data"] = ctx.data_dir.string();
  auto config = http::load_config(s);
  if (!config) return ctx.fail_with(config.error());
  // A data directory with no key yet gets one (the server started there later uses it).
  auto secret = http::load_room_token_secret(*config, true);
  if (!secret) return ctx.fail_with(secret.error());

  // A server with this config that requires no token opens every room to
  // everyone: the token would limit nothing (docs/security.md).
  if (!http::sync_token_required(*config))
    std::fprintf(stderr,
                 "warning: a server with this configuration requires no token (set room_token_secret in its config "
                 "or sync_require_token = true): this token will limit nothing there\n");

  sync::RoomToken t;
  t.rooms = f.rooms;
  t.scope = f.read_only ? sync::RoomScope::kRead : sync::RoomScope::kWrite;
  t.iat = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  t.exp = t.iat + ttl->count();
  t.sub = f.sub;
  t.quota = quota;
  std::printf("%s\n", sync::mint_room_token(t, *secret).c_str());
}

}  // namespace

void add_token_command(CLI::App& app, CliContext& ctx) {
  auto* token = app.add_subcommand("token", "Room tokens for /sync/<room> (docs/security.md)");
  token->require_subcommand(1);
  auto* create = token->add_subcommand(
      "create", "Print a room token: HS256, signed with room_token_secret from --config, else DATA/room_token.secret");
  auto f = std::make_shared<TokenFlags>();
  create->add_option("--room", f->rooms, "Room name pattern; * matches any run of characters, / included (repeatable)")
      ->required();
  create->add_flag("--read-only", f->read_only, "Scope read: the token reads rooms and blobs, never writes");
  create->add_option("--ttl", f->ttl, "Lifetime (e.g. 30m, 24h, 7d; default 24h)");
  create->add_option("--sub", f->sub,
                     "Whose storage quota the token uses (e.g. a user id): tokens with one sub share it (1-256 bytes)");
  create->add_option("--quota", f->quota,
                     "Bytes the token (or its --sub) may add: uploads and updates (e.g. 100MiB; 0: unlimited; "
                     "default: the server's room_token_quota)");
  create->add_option("--config", f->config, "TOML config file whose room_token_secret signs the token");
  create->callback([create, f, &ctx] { run_create(*create, ctx, *f); });
}

}  // namespace blobsync
