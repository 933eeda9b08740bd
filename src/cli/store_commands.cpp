// `blobsync put|get|ls|stat|rm|verify` on the store named by --data,
// --metadata and --store (the same one a server with those settings uses).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <optional>
#include <set>

#include "cli/cli_context.h"
#include "cli/progress.h"
#include "core/blob_id.h"
#include "core/blob_ref.h"
#include "cli/migrate_command.h"
#include "store/blob_store.h"
#include "store/blob_lifecycle.h"
#include "store/shared_store.h"

namespace blobsync {

namespace {

// What `blobsync put` and a local `get` hold their blobs with.
constexpr std::string_view kCliPin = "pin:cli";

std::string iso_time(std::int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms % 1000);
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
        else out += c;
    }
  }
  return out;
}

Result<BlobRecord> put_stdin(BlobStore& store, const PutOptions& options) {
  auto ingest = store.begin_put(options);
  if (!ingest) return std::unexpected(ingest.error());
  std::vector<std::byte> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, "reading stdin"));
    }
    if (n == 0) break;
    if (auto r = (*ingest)->write({buf.data(), static_cast<std::size_t>(n)}); !r) return std::unexpected(r.error());
  }
  return (*ingest)->finish();
}

void print_ref(const BlobRecord& rec, std::string filename) {
  BlobRef ref{rec.hash, rec.size, rec.mime_type, std::move(filename), rec.chunk_count};
  std::printf("%s\n", to_json(ref).c_str());
  std::fflush(stdout);
}

// Runs of named files go through put_files (one file's fsyncs overlap the
// next one's hashing); "-" reads stdin in between.
void run_put(CliContext& ctx, const std::vector<std::string>& files, const std::string& mime) {
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  BlobStore* store = opened->store.get();
  PutOptions options;
  options.declared_mime = mime;
  options.hold = std::string(kCliPin);  // a blob the user stored by hand stays until unpinned
  std::vector<std::filesystem::path> batch;
  auto flush = [&]() -> bool {
    std::optional<Progress> bar;
    std::size_t bar_for = SIZE_MAX;
    auto progress = [&](std::size_t i, std::uint64_t done) {
      if (i != bar_for) {
        if (bar) bar->finish();
        std::error_code ec;
        bar.emplace(batch[i].filename().string(), std::filesystem::file_size(batch[i], ec));
        bar_for = i;
      }
      bar->update(done);
    };
    auto r = store->put_files(batch, options,
                              [&](std::size_t i, const BlobRecord& rec) {
                                if (bar && bar_for == i) bar->finish();
                                print_ref(rec, batch[i].filename().string());
                              },
                              progress);
    if (bar) bar->finish();
    batch.clear();
    if (!r) ctx.fail_with(r.error());
    return r.has_value();
  };
  for (const auto& file : files) {
    if (file != "-") {
      batch.emplace_back(file);
      continue;
    }
    if (!flush()) return;
    auto rec = put_stdin(*store, options);
    if (!rec) return ctx.fail_with(Error{rec.error().code, fmt::format("-: {}", rec.error().message)});
    print_ref(*rec, "");
  }
  flush();
}

// Writes to FILE via a temporary file in the same directory, renamed into
// place only after every byte was verified, so FILE never holds bad data.
void run_get(CliContext& ctx, const std::string& id, const std::string& out) {
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  write_blob_verified(ctx, *opened->store, id, out);
}

}  // namespace

void write_blob_verified(CliContext& ctx, BlobStore& store, const std::string& id, const std::string& out) {
  auto digest = parse_blob_id_or_hex(id);
  if (!digest) return ctx.fail_with(digest.error());
  auto rec = store.stat(*digest);
  if (!rec) return ctx.fail_with(rec.error());

  int fd = STDOUT_FILENO;
  std::string tmp;
  if (!out.empty() && out != "-") {
    tmp = out + ".blobsync-partial";
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ctx.fail_with(errno_error(errno, "cannot create " + tmp));
  }
  Progress progress(to_hash_ref(*digest).substr(0, 19), rec->size);
  std::uint64_t done = 0;
  auto r = store.read_verified(*digest, [&](std::span<const std::byte> data) -> Result<> {
    const std::byte* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(errno_error(errno, "write failed"));
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    done += data.size();
    progress.update(done);
    return {};
  });
  progress.finish();
  if (!tmp.empty()) {
    if (r && ::fsync(fd) != 0) r = std::unexpected(errno_error(errno, "fsync " + tmp));
    ::close(fd);
    if (r && ::rename(tmp.c_str(), out.c_str()) != 0) r = std::unexpected(errno_error(errno, "rename to " + out));
    if (!r) ::unlink(tmp.c_str());
  }
  if (!r) return ctx.fail_with(r.error());
}

namespace {

void run_ls(CliContext& ctx, std::size_t limit, const std::string& after) {
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  BlobStore* store = opened->store.get();
  std::optional<Digest> cursor;
  if (!after.empty()) {
    auto d = parse_blob_id_or_hex(after);
    if (!d) return ctx.fail_with(d.error());
    cursor = *d;
  }
  std::size_t printed = 0;
  while (limit == 0 || printed < limit) {
    std::size_t page = limit == 0 ? 1000 : std::min<std::size_t>(1000, limit - printed);
    auto rows = store->list(cursor, page);
    if (!rows) return ctx.fail_with(rows.error());
    // A quarantined blob (bytes failed a re-hash; not served) gets a fourth column.
    for (const auto& r : *rows)
      std::printf("%s\t%llu\t%s%s\n", to_hash_ref(r.hash).c_str(), static_cast<unsigned long long>(r.size),
                  r.mime_type.c_str(), r.quarantine.empty() ? "" : "\tquarantined");
    printed += rows->size();
    if (rows->size() < page) break;
    cursor = rows->back().hash;
  }
}

void run_stat(CliContext& ctx, const std::string& id, bool chunks) {
  auto digest = parse_blob_id_or_hex(id);
  if (!digest) return ctx.fail_with(digest.error());
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  BlobStore* store = opened->store.get();
  auto rec = store->stat(*digest);
  if (!rec) return ctx.fail_with(rec.error());
  auto lifecycle = BlobLifecycle::open(opened->db, opened->store->unfenced(), opened->fence);
  if (!lifecycle) return ctx.fail_with(lifecycle.error());
  auto holds = (*lifecycle)->holds_of(*digest);
  if (!holds) return ctx.fail_with(holds.error());
  std::string held_by;
  for (const auto& h : *holds) held_by += fmt::format("{}\"{}\"", held_by.empty() ? "" : ",", json_escape(h));
  std::string json = fmt::format(
      "{{\"hash\":\"{}\",\"cid\":\"{}\",\"size\":{},\"mimeType\":\"{}\",\"chunkCount\":{},\"createdAt\":\"{}\","
      "\"state\":\"{}\",\"holds\":[{}]",
      to_hash_ref(rec->hash), to_cid(rec->hash), rec->size, json_escape(rec->mime_type), rec->chunk_count,
      iso_time(rec->created_at_ms), rec->state == BlobState::kPermanent ? "permanent" : "temporary", held_by);
  if (!rec->quarantine.empty()) json += fmt::format(",\"quarantine\":\"{}\"", json_escape(rec->quarantine));
  if (!rec->filename.empty()) json += fmt::format(",\"filename\":\"{}\"", json_escape(rec->filename));
  if (chunks) {
    json += ",\"chunks\":[";
    for (std::size_t i = 0; i < rec->chunk_hashes.size(); ++i)
      json += fmt::format("{}\"{}\"", i ? "," : "", to_hash_ref(rec->chunk_hashes[i]));
    json += "]";
  }
  json += "}";
  std::printf("%s\n", json.c_str());
}

void run_rm(CliContext& ctx, const std::vector<std::string>& ids) {
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  BlobStore* store = opened->store.get();
  for (const auto& id : ids) {
    auto digest = parse_blob_id_or_hex(id);
    if (!digest) return ctx.fail_with(digest.error());
    if (auto r = store->remove(*digest); !r) return ctx.fail_with(r.error());
  }
}

// `blobsync pin/unpin`: an explicit hold "pin:<label>" on each blob.
void run_pin(CliContext& ctx, const std::vector<std::string>& ids, const std::string& label, bool pin) {
  if (label.empty() || label.find_first_of(" \t\n") != std::string::npos)
    return ctx.fail_with(Error{Errc::kInvalidArgument, "--label must be a non-empty word"});
  std::vector<Digest> hashes;
  for (const auto& id : ids) {
    auto digest = parse_blob_id_or_hex(id);
    if (!digest) return ctx.fail_with(digest.error());
    hashes.push_back(*digest);
  }
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  auto lifecycle = BlobLifecycle::open(opened->db, opened->store->unfenced(), opened->fence);
  if (!lifecycle) return ctx.fail_with(lifecycle.error());
  std::string holder = "pin:" + label;
  if (!pin) {
    if (auto r = (*lifecycle)->release(holder, hashes); !r) return ctx.fail_with(r.error());
    return;
  }
  for (const auto& h : hashes)
    if (auto r = (*lifecycle)->hold_stored(holder, h); !r) return ctx.fail_with(r.error());
}

void run_verify(CliContext& ctx, bool quiet) {
  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  BlobStore* store = opened->store.get();
  auto report = store->verify();
  if (!report) return ctx.fail_with(report.error());
  std::set<Digest> quarantined;
  for (const auto& p : report->problems) {
    std::printf("%s\t%s%s\n", to_hash_ref(p.hash).c_str(), p.what.c_str(), p.quarantined ? " (quarantined)" : "");
    if (p.quarantined) quarantined.insert(p.hash);
  }
  for (const auto& h : report->released) std::printf("%s\tchecks out again: quarantine lifted\n", to_hash_ref(h).c_str());
  std::string q = quarantined.empty() ? std::string()
                                      : fmt::format("; {} blob{} quarantined: not served until a verified copy replaces {}",
                                                    quarantined.size(), quarantined.size() == 1 ? "" : "s",
                                                    quarantined.size() == 1 ? "it" : "them");
  if (!quiet || !report->problems.empty())
    std::fprintf(stderr, "verified %llu blobs (%llu bytes): %zu problem%s%s\n",
                 static_cast<unsigned long long>(report->checked), static_cast<unsigned long long>(report->bytes),
                 report->problems.size(), report->problems.size() == 1 ? "" : "s", q.c_str());
  if (!report->problems.empty()) ctx.exit_code = kExitCorrupt;
}

}  // namespace

void add_store_commands(CLI::App& app, CliContext& ctx) {
  add_store_location_options(app, ctx);
  add_migrate_command(app, ctx);  // idempotent: main.cpp may register it too
  {
    auto* cmd = app.add_subcommand("put", "Store files (locally, or upload to a room with --server); prints one BlobRef JSON per file");
    auto files = std::make_shared<std::vector<std::string>>();
    auto mime = std::make_shared<std::string>();
    auto remote = std::make_shared<RemoteOptions>();
    cmd->add_option("files", *files, "Files to store ('-' reads stdin)")->required();
    cmd->add_option("--mime", *mime, "Declared MIME type, used when the content is not recognised");
    add_remote_options(cmd, *remote);
    cmd->callback([&ctx, files, mime, remote] {
      if (remote->server.empty()) run_put(ctx, *files, *mime);
      else run_remote_put(ctx, *remote, *files);
    });
  }
  {
    auto* cmd = app.add_subcommand("get", "Write a blob to stdout or a file, verifying every byte (fetched from the room's holders with --server)");
    auto id = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto remote = std::make_shared<RemoteOptions>();
    cmd->add_option("hash", *id, "sha256:<hex>, bafkrei... CID or 64 hex digits")->required();
    cmd->add_option("-o,--output", *out, "Output file (written atomically; default stdout)");
    add_remote_options(cmd, *remote);
    cmd->callback([&ctx, id, out, remote] {
      if (remote->server.empty()) run_get(ctx, *id, *out);
      else run_remote_get(ctx, *remote, *id, *out);
    });
  }
  {
    auto* cmd = app.add_subcommand("ls", "List stored blobs in hash order: hash, size, MIME type");
    auto limit = std::make_shared<std::size_t>(0);
    auto after = std::make_shared<std::string>();
    cmd->add_option("--limit", *limit, "At most this many (0 = all)");
    cmd->add_option("--after", *after, "Start after this hash");
    cmd->callback([&ctx, limit, after] { run_ls(ctx, *limit, *after); });
  }
  {
    auto* cmd = app.add_subcommand("stat", "Print a blob's metadata as JSON");
    auto id = std::make_shared<std::string>();
    auto chunks = std::make_shared<bool>(false);
    cmd->add_option("hash", *id, "Blob hash or CID")->required();
    cmd->add_flag("--chunks", *chunks, "Include the chunk hashes");
    cmd->callback([&ctx, id, chunks] { run_stat(ctx, *id, *chunks); });
  }
  {
    auto* cmd = app.add_subcommand("rm", "Delete blobs");
    auto ids = std::make_shared<std::vector<std::string>>();
    cmd->add_option("hashes", *ids, "Blob hashes or CIDs")->required();
    cmd->callback([&ctx, ids] { run_rm(ctx, *ids); });
  }
  for (bool pin : {true, false}) {
    auto* cmd = pin ? app.add_subcommand("pin", "Keep blobs whatever references them (a hold pin:LABEL) until unpinned")
                    : app.add_subcommand("unpin", "Drop the hold pin:LABEL; a blob nothing else holds is collected "
                                                  "by gc after the grace period");
    auto ids = std::make_shared<std::vector<std::string>>();
    auto label = std::make_shared<std::string>("cli");
    cmd->add_option("hashes", *ids, "Blob hashes or CIDs")->required();
    cmd->add_option("--label", *label,
                    "The pin's label (default cli, as `put` pins; PUT /blobs pins with put; upgrades with legacy)");
    cmd->callback([&ctx, ids, label, pin] { run_pin(ctx, *ids, *label, pin); });
  }
  {
    auto* cmd = app.add_subcommand("verify", "Re-hash every stored blob; list missing or corrupt ones and quarantine them (exit 3)");
    auto quiet = std::make_shared<bool>(false);
    cmd->add_flag("-q,--quiet", *quiet, "Print nothing when all is well");
    cmd->callback([&ctx, quiet] { run_verify(ctx, *quiet); });
  }
}

}  // namespace blobsync
