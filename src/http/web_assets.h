// WebAsset: the files of the page at / (web/), compiled into the binary.
// The table is generated at build time (cmake/EmbedFiles.cmake writes
// web_assets.cpp in the build tree); web_page.cpp serves it.
//
// Thread safety: constant data.
#pragma once

#include <cstddef>

namespace blobsync::http {

struct WebAsset {
  const char* path;          // "/" or "/app/<name>"
  const char* content_type;  // with charset
  const char* etag;          // quoted: a hash of the bytes
  const unsigned char* data;
  std::size_t size;
};

extern const WebAsset kWebAssets[];
extern const std::size_t kWebAssetCount;

}  // namespace blobsync::http
