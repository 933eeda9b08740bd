#include "cli/cli_context.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "store/blob_store.h"
#include "store/s3/backend_url.h"
#include "store/shared_store.h"

namespace blobsync {

void CliContext::fail_with(const Error& error) {
  std::fprintf(stderr, "blobsync: %s\n", error.message.c_str());
  exit_code = error.code == Errc::kCorruption ? kExitCorrupt
              : error.code == Errc::kInvalidArgument ? kExitUsage
                                                     : kExitError;
}

void CliContext::fail_with(std::string_view message, int code) {
  std::fprintf(stderr, "blobsync: %.*s\n", static_cast<int>(message.size()), message.data());
  exit_code = code;
}

Result<SharedStore> CliContext::open_store() const {
  auto backend = open_store_url(store);
  if (!backend) return std::unexpected(backend.error());
  SharedStoreOptions options;
  options.data_dir = data_dir;
  options.metadata = metadata;
  options.backend = std::move(*backend);
  return open_shared_store(options);
}

void add_store_location_options(CLI::App& app, CliContext& ctx) {
  if (app.get_option_no_throw("--metadata") != nullptr) return;
  if (const char* env = std::getenv("BLOBSYNC_METADATA"); env && *env) ctx.metadata = env;
  if (const char* env = std::getenv("BLOBSYNC_STORE"); env && *env) ctx.store = env;
  app.add_option("--metadata", ctx.metadata,
                 "Metadata database: sqlite (DATA/meta.db, the default), sqlite:PATH or postgresql://... "
                 "(default $BLOBSYNC_METADATA)");
  app.add_option("--store", ctx.store,
                 "Blob backend: disk (DATA/blobs, the default), disk:DIR or s3://BUCKET?endpoint=... "
                 "(default $BLOBSYNC_STORE)");
}

}  // namespace blobsync
