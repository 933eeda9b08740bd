// TIDs: ATProto timestamp identifiers used as record keys and revisions.
// 13 characters of base32-sortable ("234567abcdefghijklmnopqrstuvwxyz") over a
// 64-bit value: top bit 0, 53 bits of microseconds since the epoch, 10 bits
// of clock id. next_tid() is strictly increasing within the process.
//
// Thread safety: next_tid() is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace blobsync::http {

std::string next_tid();
std::string encode_tid(std::uint64_t value);
bool is_valid_tid(std::string_view s);

}  // namespace blobsync::http
