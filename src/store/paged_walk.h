// PagedWalk: a cursor over a digest-ordered listing read a page at a time
// (MetadataStore::list_blobs, BlobBackend::enumerate): when the current page
// is used up, the next one is fetched after the last digest seen, so the
// listing may change between pages without a row being seen twice.
//
// Thread safety: single-threaded.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {

template <class Row>
class PagedWalk {
 public:
  // Up to `limit` rows after `after` (from the start if nullopt), in digest order.
  using Fetch = std::function<Result<std::vector<Row>>(std::optional<Digest> after, std::size_t limit)>;
  using Key = std::function<Digest(const Row&)>;  // a row's digest

  PagedWalk(Fetch fetch, Key key, std::size_t page_size = 1000)
      : fetch_(std::move(fetch)), key_(std::move(key)), page_size_(page_size) {}

  // The current row (valid until advance()), or nullptr at the end.
  Result<const Row*> peek() {
    if (at_ == page_.size() && !done_) {
      auto page = fetch_(cursor_, page_size_);
      if (!page) return std::unexpected(page.error());
      page_ = std::move(*page);
      at_ = 0;
      if (page_.empty()) done_ = true;
      else cursor_ = key_(page_.back());
    }
    if (at_ == page_.size()) return nullptr;
    return &page_[at_];
  }
  // REQUIRES: peek() returned a row.
  void advance() { ++at_; }
  // The current row, consumed; nullopt at the end.
  Result<std::optional<Row>> next() {
    auto row = peek();
    if (!row) return std::unexpected(row.error());
    if (!*row) return std::nullopt;
    advance();
    return **row;
  }

 private:
  Fetch fetch_;
  Key key_;
  std::size_t page_size_;
  std::vector<Row> page_;
  std::size_t at_ = 0;
  std::optional<Digest> cursor_;
  bool done_ = false;
};

}  // namespace blobsync
