#include "crdt/id_set.h"

#include <algorithm>

#include "crdt/update_coder.h"

namespace blobsync::crdt {

void DeleteSet::sort_and_merge() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    auto& v = it->second;
    std::sort(v.begin(), v.end(), [](const DeleteRange& a, const DeleteRange& b) { return a.clock < b.clock; });
    size_t j = 0;
    for (size_t i = 1; i < v.size(); ++i) {
      auto& l = v[j];
      auto& r = v[i];
      if (l.clock + l.len >= r.clock) {
        l.len = std::max(l.len, r.clock + r.len - l.clock);
      } else {
        v[++j] = r;
      }
    }
    if (!v.empty()) v.resize(j + 1);
    if (v.empty())
      it = clients_.erase(it);
    else
      ++it;
  }
}

void DeleteSet::merge_from(const DeleteSet& other) {
  for (auto& [client, ranges] : other.clients_) {
    auto& dst = clients_[client];
    dst.insert(dst.end(), ranges.begin(), ranges.end());
  }
}

bool DeleteSet::contains(uint64_t client, uint64_t clock) const {
  auto it = clients_.find(client);
  if (it == clients_.end()) return false;
  auto& v = it->second;
  auto r = std::upper_bound(v.begin(), v.end(), clock, [](uint64_t c, const DeleteRange& d) { return c < d.clock; });
  if (r == v.begin()) return false;
  --r;
  return clock < r->clock + r->len;
}

void DeleteSet::write(UpdateEncoder& enc) const {
  Encoder& rest = enc.rest();
  rest.write_var_uint(clients_.size());
  for (auto& [client, ranges] : clients_) {
    enc.reset_ds_cur_val();
    rest.write_var_uint(client);
    rest.write_var_uint(ranges.size());
    for (auto& r : ranges) {
      enc.write_ds_clock(r.clock);
      enc.write_ds_len(r.len);
    }
  }
}

DeleteSet DeleteSet::read(UpdateDecoder& dec) {
  DeleteSet ds;
  Decoder& rest = dec.rest();
  uint64_t n = rest.read_count();
  for (uint64_t i = 0; i < n && dec.ok(); ++i) {
    dec.reset_ds_cur_val();
    uint64_t client = rest.read_var_uint();
    uint64_t nr = rest.read_count();
    for (uint64_t k = 0; k < nr && dec.ok(); ++k) {
      uint64_t clock = dec.read_ds_clock();
      uint64_t len = dec.read_ds_len();
      if (!dec.ok()) break;
      if (clock > kMaxSafeInteger || len > kMaxSafeInteger - clock) {
        dec.fail("delete range out of range");
        break;
      }
      ds.add(client, clock, len);
    }
  }
  return ds;
}

std::string DeleteSet::to_json() const {
  std::string out = "{";
  bool first = true;
  for (auto it = clients_.rbegin(); it != clients_.rend(); ++it) {
    if (!first) out.push_back(',');
    first = false;
    out += '"' + std::to_string(it->first) + "\":[";
    for (size_t i = 0; i < it->second.size(); ++i) {
      if (i) out.push_back(',');
      out += '[' + std::to_string(it->second[i].clock) + ',' + std::to_string(it->second[i].len) + ']';
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

}  // namespace blobsync::crdt
