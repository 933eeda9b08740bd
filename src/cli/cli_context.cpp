#include "cli/cli_context.h"

#include <cstdio>

#include "store/blob_store.h"

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

Result<std::unique_ptr<BlobStore>> CliContext::open_store() const {
  StoreOptions options;
  options.data_dir = data_dir;
  return BlobStore::open(options);
}

}  // namespace blobsync
