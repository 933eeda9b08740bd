// ChangeStamp: what SqlDb::change_stamp() returns: two equal stamps mean no
// connection of any process committed to the database in between.
//
// Thread safety: a plain value.
#pragma once

#include <array>
#include <cstdint>

namespace blobsync {

struct ChangeStamp {
  std::array<std::uint32_t, 4> v{};
  bool operator==(const ChangeStamp&) const = default;
};

}  // namespace blobsync
