// The remote halves of `blobsync put` and `get` (--server URL --room R), and
// `blobsync ydoc dump`: each connects to a room through the C++ client.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "cli/cli_context.h"
#include "cli/progress.h"
#include "client/client.h"
#include "core/blob_id.h"
#include "core/blob_ref.h"
#include "crdt/doc.h"
#include "crdt/root_types.h"
#include "store/blob_store.h"

namespace blobsync {

namespace {

Result<std::unique_ptr<client::Client>> connect(const CliContext& ctx, const RemoteOptions& remote, bool sync_doc) {
  if (remote.room.empty()) return fail(Errc::kInvalidArgument, "--room is required with --server");
  client::ClientOptions options;
  options.server = remote.server;
  options.room = remote.room;
  options.token = remote.token;
  options.tls = {.ca_file = remote.ca_file, .insecure = remote.insecure};
  warn_if_insecure(remote.insecure);
  options.data_dir = ctx.data_dir;
  options.timeout = std::chrono::milliseconds(static_cast<long>(remote.timeout_s * 1000));
  options.sync_doc = sync_doc;
  options.preferred_holders = remote.prefer;
  options.on_holder_error = [](const std::string& holder, const Error& e) {
    std::fprintf(stderr, "blobsync: holder %s failed: %s; trying the next one\n", holder.c_str(), e.message.c_str());
  };
  options.on_resume = [](std::uint64_t have, std::uint64_t size) {
    std::fprintf(stderr, "blobsync: resuming: %llu of %llu bytes already here\n", static_cast<unsigned long long>(have),
                 static_cast<unsigned long long>(size));
  };
  return client::Client::connect(options);
}

}  // namespace

void add_tls_options(CLI::App* cmd, std::string& ca_file, bool& insecure) {
  auto* ca = cmd->add_option("--ca-file", ca_file, "PEM CA bundle a wss:// or https:// server must chain to (default: the system's store)");
  cmd->add_flag("--insecure", insecure, "Do not verify the server's TLS certificate: for tests only")->excludes(ca);
}

void warn_if_insecure(bool insecure) {
  if (insecure)
    std::fprintf(stderr, "blobsync: WARNING: --insecure: TLS certificates are NOT verified; anyone on the path can read "
                         "and change this traffic. For tests only.\n");
}

void add_remote_options(CLI::App* cmd, RemoteOptions& remote) {
  if (const char* token = std::getenv("BLOBSYNC_TOKEN"); token && *token) remote.token = token;
  cmd->add_option("--server", remote.server, "A server's sync URL, e.g. ws://127.0.0.1:3913/sync or wss://host/sync");
  cmd->add_option("--room", remote.room, "Room name (with --server)");
  cmd->add_option("--token", remote.token, "Room access token (or $BLOBSYNC_TOKEN)");
  cmd->add_option("--timeout", remote.timeout_s, "Seconds to wait for a connection or a silent holder (default 30)");
  add_tls_options(cmd, remote.ca_file, remote.insecure);
  if (cmd->get_name() == "get")
    cmd->add_option("--prefer-holder", remote.prefer, "Try this holder's sync URL first (repeatable)");
}

void run_remote_put(CliContext& ctx, const RemoteOptions& remote, const std::vector<std::string>& files) {
  for (const auto& f : files)
    if (f == "-") return ctx.fail_with("put --server does not read stdin; store the data in a file first", kExitUsage);
  auto c = connect(ctx, remote, /*sync_doc=*/true);
  if (!c) return ctx.fail_with(c.error());
  for (const auto& file : files) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    Progress progress(std::filesystem::path(file).filename().string(), ec ? 0 : size);
    auto ref = (*c)->put_blob(file, [&](std::uint64_t done, std::uint64_t) { progress.update(done); });
    progress.finish();
    if (!ref) return ctx.fail_with(Error{ref.error().code, fmt::format("{}: {}", file, ref.error().message)});
    std::printf("%s\n", to_json(*ref).c_str());
  }
}

void run_remote_get(CliContext& ctx, const RemoteOptions& remote, const std::string& id, const std::string& out) {
  auto digest = parse_blob_id_or_hex(id);
  if (!digest) return ctx.fail_with(digest.error());
  auto c = connect(ctx, remote, /*sync_doc=*/true);
  if (!c) return ctx.fail_with(c.error());
  Progress progress(to_hash_ref(*digest).substr(0, 19), 0);
  auto rec = (*c)->get_blob(*digest, [&](std::uint64_t done, std::uint64_t) { progress.update(done); });
  progress.finish();
  if (!rec) return ctx.fail_with(rec.error());
  write_blob_verified(ctx, (*c)->store(), id, out);
}

void add_remote_commands(CLI::App& app, CliContext& ctx) {
  CLI::App* ydoc = nullptr;
  try {
    ydoc = app.get_subcommand("ydoc");
  } catch (const CLI::OptionNotFound&) {
    ydoc = app.add_subcommand("ydoc", "Look inside Yjs documents");
  }
  auto* cmd = ydoc->add_subcommand("dump", "Print a room's document as JSON (as yjs's toJSON; root types as `ydoc json`)");
  auto remote = std::make_shared<RemoteOptions>();
  auto roots = std::make_shared<crdt::RootTypes>();
  add_remote_options(cmd, *remote);
  cmd->add_option("--map", roots->maps, "Read root NAME as a Y.Map")->type_name("NAME")->allow_extra_args(false);
  cmd->add_option("--array", roots->arrays, "Read root NAME as a Y.Array")->type_name("NAME")->allow_extra_args(false);
  cmd->add_option("--text", roots->texts, "Read root NAME as a Y.Text")->type_name("NAME")->allow_extra_args(false);
  cmd->add_option("--xml", roots->xmls, "Read root NAME as a Y.XmlFragment")->type_name("NAME")->allow_extra_args(false);
  cmd->callback([&ctx, remote, roots] {
    if (remote->server.empty()) return ctx.fail_with("ydoc dump needs --server and --room", kExitUsage);
    auto c = connect(ctx, *remote, /*sync_doc=*/true);
    if (!c) return ctx.fail_with(c.error());
    Result<> typed;
    std::string json;
    (*c)->with_doc([&](crdt::Doc& doc) {
      typed = crdt::resolve_root_types(doc, *roots);
      if (typed) json = doc.to_json();
    });
    if (!typed) return ctx.fail_with(typed.error());
    std::printf("%s\n", json.c_str());
  });
}

}  // namespace blobsync
