// DeleteSet: per client, sorted and merged ranges [clock, clock+len) of
// deleted elements. Written as varUint(numClients) then per client (in
// descending client order) the client id, the range count and the ranges
// through the update encoder's DS methods (v1: plain varUints, v2: deltas).
//
// Thread safety: plain value.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace blobsync::crdt {

class UpdateEncoder;
class UpdateDecoder;

struct DeleteRange {
  uint64_t clock = 0;
  uint64_t len = 0;
  bool operator==(const DeleteRange&) const = default;
};

class DeleteSet {
 public:
  using Map = std::map<uint64_t, std::vector<DeleteRange>, std::greater<>>;

  void add(uint64_t client, uint64_t clock, uint64_t len) {
    if (len > 0) clients_[client].push_back({clock, len});
  }
  // Sorts every client's ranges and merges overlapping/adjacent ones.
  void sort_and_merge();
  void merge_from(const DeleteSet& other);  // union; REQUIRES sort_and_merge after
  bool contains(uint64_t client, uint64_t clock) const;  // REQUIRES sorted
  bool empty() const { return clients_.empty(); }
  const Map& clients() const { return clients_; }
  Map& clients() { return clients_; }
  bool operator==(const DeleteSet&) const = default;

  void write(UpdateEncoder& enc) const;
  // Reads a delete set; ranges are accepted unsorted (callers sort).
  static DeleteSet read(UpdateDecoder& dec);
  std::string to_json() const;  // {"client":[[clock,len],...]} for tests

 private:
  Map clients_;
};

}  // namespace blobsync::crdt
