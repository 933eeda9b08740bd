// Test helper: prints "<sha256:hex> <cid>" for each argument's bytes, so the
// multiformats interop test can compare against the npm package.
#include <cstdio>
#include <cstring>

#include "core/blob_id.h"
#include "core/sha256.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    blobsync::Digest d = blobsync::Sha256::of(argv[i], std::strlen(argv[i]));
    std::printf("%s %s\n", blobsync::to_hash_ref(d).c_str(), blobsync::to_cid(d).c_str());
  }
  return 0;
}
