// Doc: a Yjs-compatible document. Holds the struct store, the root types,
// pending structs/deletes from out-of-order updates, and observers. Every
// change runs in a transaction; at its end deleted content is garbage
// collected (if gc), adjacent structs are merged and update observers get
// the v1/v2 update describing exactly the change.
//
// Thread safety: a Doc is not thread-safe; use it from one thread at a time
// (external locking). Distinct Docs are independent.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crdt/block.h"
#include "crdt/id_set.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"
#include "crdt/struct_store.h"
#include "crdt/transaction.h"
#include "crdt/update_coder.h"

namespace blobsync::crdt {

class MapRef;
class ArrayRef;
class TextRef;
class XmlFragmentRef;

// A random 32-bit client id (what yjs uses).
uint64_t random_client_id();

class Doc {
 public:
  using UpdateFn = std::function<void(const Bytes& update, const Transaction& txn)>;
  using TxnFn = std::function<void(const Transaction& txn)>;

  explicit Doc(uint64_t client_id = random_client_id(), bool gc = true);
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;
  ~Doc();

  uint64_t client_id() const { return client_id_; }
  void set_client_id(uint64_t id) { client_id_ = id; }
  bool gc() const { return gc_; }

  // Root type `name`; a root first created untyped (by an update) is
  // narrowed to `type`. Returns null if it already has a different type.
  Branch* get(const std::string& name, TypeRef type);
  MapRef get_map(const std::string& name);
  ArrayRef get_array(const std::string& name);
  TextRef get_text(const std::string& name);
  XmlFragmentRef get_xml_fragment(const std::string& name);
  // Root names in creation order.
  const std::vector<const std::string*>& root_names() const { return root_order_; }
  Branch* root(const std::string& name) const;

  // Runs f inside a transaction (nested calls join the outer one).
  void transact(const std::function<void(Transaction&)>& f, const void* origin = nullptr, bool local = true);

  // Applies an update; out-of-order parts are kept pending until their
  // dependencies arrive. On malformed input returns an error; the document
  // stays valid (a prefix of the update may have been applied).
  Result<void> apply_update(ByteView update, const void* origin = nullptr, UpdateFormat fmt = UpdateFormat::kV1);
  Result<void> apply_decoded(DecodedUpdate update, const void* origin = nullptr);

  StateVector state_vector() const { return store_.state_vector(); }
  Bytes encode_state_vector() const { return crdt::encode_state_vector(state_vector()); }
  // Everything the holder of `sv` lacks, including pending structs/deletes.
  Bytes encode_state_as_update(const StateVector& sv = {}, UpdateFormat fmt = UpdateFormat::kV1) const;
  Result<Bytes> encode_state_as_update_for(ByteView encoded_sv, UpdateFormat fmt = UpdateFormat::kV1) const;
  DeleteSet delete_set() const;  // from the struct store
  bool has_pending() const { return pending_ != nullptr || !pending_ds_.empty(); }

  // Bounds on what out-of-order updates may leave pending (structs waiting
  // for missing dependencies, delete ranges for unknown structs). Pending
  // work is re-merged and retried as later updates arrive, so without a
  // bound one client could grow it, and the cost of every message, without
  // limit. An update that would go past a bound keeps what it integrated,
  // but its new pending part is dropped and apply returns kTooLarge.
  // 0: no bound.
  struct PendingLimits {
    size_t max_structs = 0;  // pending structs + pending delete ranges
    size_t max_bytes = 0;    // encoded size of the pending structs
  };
  void set_pending_limits(PendingLimits l) { pending_limits_ = l; }
  size_t pending_structs() const { return pending_structs_; }
  // Encoded size of the structs waiting (summed as they arrived).
  size_t pending_bytes() const { return pending_bytes_; }

  // JSON text as yjs's doc.toJSON() + JSON.stringify (untyped roots omitted).
  std::string to_json() const;

  int on_update(UpdateFn fn);
  int on_update_v2(UpdateFn fn);
  int on_after_transaction(TxnFn fn);
  void off(int handle);

  // Internals for the type implementations.
  StructStore& store() { return store_; }
  const StructStore& store() const { return store_; }
  Transaction* txn() { return txn_; }
  Branch* new_branch(TypeRef type, std::string node_name);

 private:
  struct Pending {
    DecodedUpdate update;
    StateVector missing;
  };
  void cleanup(Transaction& txn);
  void integrate_structs(Transaction& txn, DecodedUpdate& u, std::optional<Pending>& rest, bool* error);
  void apply_delete_set(Transaction& txn, const DeleteSet& ds, DeleteSet& unapplied);
  void write_structs(UpdateEncoder& enc, const StateVector& sv) const;
  // `sm`: (client, clock from) with something to write, clients descending.
  void write_structs(UpdateEncoder& enc, const std::vector<std::pair<uint64_t, uint64_t>>& sm) const;
  void apply_in_txn(Transaction& txn, DecodedUpdate u, std::string* err, bool* over_limit);

  uint64_t client_id_;
  bool gc_;
  StructStore store_;
  std::map<std::string, std::unique_ptr<Branch>> share_;
  std::vector<const std::string*> root_order_;
  std::vector<std::unique_ptr<Branch>> branches_;
  Transaction* txn_ = nullptr;
  std::unique_ptr<Pending> pending_;  // rare: a pointer keeps every Doc ~120 bytes smaller
  DeleteSet pending_ds_;
  PendingLimits pending_limits_;
  size_t pending_structs_ = 0;  // blocks in pending_ plus ranges in pending_ds_
  size_t pending_bytes_ = 0;    // encoded size of pending_'s structs, summed as they arrived
  int next_handle_ = 1;
  std::vector<std::pair<int, UpdateFn>> update_fns_;
  std::vector<std::pair<int, UpdateFn>> update_v2_fns_;
  std::vector<std::pair<int, TxnFn>> txn_fns_;
};

}  // namespace blobsync::crdt
