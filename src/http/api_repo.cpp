// com.atproto.repo.{create,put,delete,get,list}Record(s): a minimal record
// store (JSON in SQLite, TID record keys) and blob reference tracking.
#include <boost/json.hpp>

#include <array>

#include "core/base32.h"
#include "core/blob_id.h"
#include "core/sha256.h"
#include "http/blob_refs.h"
#include "http/json_util.h"
#include "http/lexicon.h"
#include "http/record_syntax.h"
#include "http/api.h"
#include "http/tid.h"

namespace blobsync::http {

namespace {

Response fail_response(const XrpcFailure& f) { return to_response(f); }

// CIDv1, dag-json codec (0x0129), sha2-256 of the stored JSON bytes.
std::string record_cid(std::string_view json) {
  Digest d = Sha256::of(json.data(), json.size());
  std::vector<std::uint8_t> bytes = {0x01, 0xa9, 0x02, 0x12, 0x20};
  bytes.insert(bytes.end(), d.bytes.begin(), d.bytes.end());
  return "b" + base32::encode_lower(bytes);
}

// The account a write targets: must be the authenticated one.
XResult<> check_repo(Api& s, const std::string& repo, const std::string& did) {
  if (repo == did) return {};
  auto account = s.accounts->get(repo);
  if (account && account->did == did) return {};
  return xfail(403, "Forbidden", "Cannot write to another account's repository");
}

struct WriteInput {
  std::string did, collection, rkey;
  boost::json::object record;
  std::optional<bool> validate;  // the request's "validate": unset, true or false
};

XResult<WriteInput> read_write_input(Api& s, Request& req, bool need_rkey, bool need_record) {
  auto did = s.authenticate(req);
  if (!did) return std::unexpected(did.error());
  auto body = parse_json_body(req);
  if (!body) return std::unexpected(body.error());
  auto repo = get_string(*body, "repo");
  if (!repo) return std::unexpected(repo.error());
  if (auto r = check_repo(s, *repo, *did); !r) return std::unexpected(r.error());
  auto collection = get_string(*body, "collection");
  if (!collection) return std::unexpected(collection.error());
  if (!valid_nsid(*collection)) return xfail(400, "InvalidRequest", "Invalid collection NSID: " + *collection);
  WriteInput in{*did, *collection, {}, {}};
  auto rkey = get_opt_string(*body, "rkey");
  if (!rkey) return std::unexpected(rkey.error());
  if (need_rkey && !*rkey) return xfail(400, "InvalidRequest", "Input must have the property \"rkey\"");
  if (*rkey) {
    if (!valid_rkey(**rkey)) return xfail(400, "InvalidRequest", "Invalid record key: " + **rkey);
    in.rkey = **rkey;
  }
  if (const auto* v = body->if_contains("validate"); v && !v->is_null()) {
    if (!v->is_bool()) return xfail(400, "InvalidRequest", "Input/validate must be a boolean");
    in.validate = v->as_bool();
  }
  if (need_record) {
    const auto* record = body->if_contains("record");
    if (!record || !record->is_object())
      return xfail(400, "InvalidRequest", "Input must have the property \"record\" (an object)");
    in.record = record->as_object();
    const auto* type = in.record.if_contains("$type");
    if (!type) in.record["$type"] = in.collection;
    else if (!type->is_string() || type->as_string() != in.collection)
      return xfail(400, "InvalidRequest", "Record $type must equal the collection " + in.collection);
  }
  return in;
}

// Lexicon validation as the reference PDS decides it: a known lexicon is
// checked unless validate is false; an unknown one passes unless validate is
// true. The blob slots' limits go onto the refs (the store checks them
// against the stored blobs). Returns the validationStatus to answer.
XResult<std::optional<std::string>> check_lexicon(const WriteInput& in, std::vector<RecordBlobRef>& refs) {
  if (in.validate == false) return std::nullopt;
  const auto& lexicons = Lexicons::builtin();
  if (!lexicons.knows_record(in.collection)) {
    if (in.validate == true) return xfail(400, "InvalidRequest", "Lexicon not found: lex:" + in.collection);
    return std::optional<std::string>("unknown");
  }
  auto slots = lexicons.validate_record(in.collection, in.record);
  if (!slots) return xfail(400, "InvalidRequest", fmt::format("Invalid {} record: {}", in.collection, slots.error()));
  for (auto& slot : *slots) {
    for (auto& ref : refs) {
      if (ref.cid == slot.cid) ref.slot_limits.push_back({slot.accept, slot.max_size});
    }
  }
  return std::optional<std::string>("valid");
}

Response write(Api& s, Request& req, bool create) {
  auto in = read_write_input(s, req, !create, true);
  if (!in) return fail_response(in.error());
  if (in->rkey.empty()) in->rkey = next_tid();
  std::vector<RecordBlobRef> refs;
  if (auto r = find_blob_refs(in->record, "record", refs); !r) return fail_response(r.error());
  auto status = check_lexicon(*in, refs);
  if (!status) return fail_response(status.error());
  std::string json = boost::json::serialize(in->record);
  if (json.size() > 1'000'000) return xrpc_error(400, "InvalidRequest", "Record is too large (max 1000000 bytes)");
  std::string cid = record_cid(json);
  // account_quota: a record costs its JSON; a replaced one gives its own back.
  std::uint64_t replaced = 0;
  if (!create && s.config.account_quota) {
    auto old = s.repo->record_bytes(in->did, in->collection, in->rkey);
    if (!old) return fail_response(old.error());
    replaced = *old;
  }
  // A write that does not grow the account is never refused (one over its
  // quota, after account_quota was lowered, can still shrink).
  auto quota = json.size() > replaced ? s.reserve_quota(in->did, json.size() - replaced)
                                      : XResult<QuotaLedger::Reservation>();
  if (!quota) return fail_response(quota.error());
  auto w = s.repo->write_record(in->did, in->collection, in->rkey, cid, json, next_tid(), refs, create);
  if (!w) return fail_response(w.error());
  quota->commit();
  boost::json::object out{{"uri", fmt::format("at://{}/{}/{}", in->did, in->collection, in->rkey)}, {"cid", cid}};
  if (*status) out["validationStatus"] = **status;
  return json_ok(out);
}

}  // namespace

void register_repo_routes(Api& s, Router& r) {
  r.add("POST", "/xrpc/com.atproto.repo.createRecord",
        {.name = "com.atproto.repo.createRecord", .handler = [&s](Request& req) { return write(s, req, true); }});
  r.add("POST", "/xrpc/com.atproto.repo.putRecord",
        {.name = "com.atproto.repo.putRecord", .handler = [&s](Request& req) { return write(s, req, false); }});
  r.add("POST", "/xrpc/com.atproto.repo.deleteRecord",
        {.name = "com.atproto.repo.deleteRecord", .handler = [&s](Request& req) {
           auto in = read_write_input(s, req, true, false);
           if (!in) return fail_response(in.error());
           auto d = s.repo->delete_record(in->did, in->collection, in->rkey);
           if (!d) return fail_response(d.error());
           return json_response("{}");
         }});
  r.add("GET", "/xrpc/com.atproto.repo.getRecord",
        {.name = "com.atproto.repo.getRecord", .handler = [&s](Request& req) {
           auto repo = get_param(req, "repo");
           if (!repo) return fail_response(repo.error());
           auto collection = get_param(req, "collection");
           if (!collection) return fail_response(collection.error());
           auto rkey = get_param(req, "rkey");
           if (!rkey) return fail_response(rkey.error());
           auto account = s.accounts->get(*repo);
           if (!account) return xrpc_error(400, "RepoNotFound", "Could not find repo: " + *repo);
           auto row = s.repo->get_record(account->did, *collection, *rkey);
           if (!row) return fail_response(row.error());
           std::string uri = fmt::format("at://{}/{}/{}", account->did, *collection, *rkey);
           if (!*row) return xrpc_error(400, "RecordNotFound", "Could not locate record: " + uri);
           return json_response(fmt::format(R"({{"uri":{},"cid":{},"value":{}}})", json_quote(uri),
                                            json_quote((*row)->cid), (*row)->value_json));
         }});
  r.add("GET", "/xrpc/com.atproto.repo.listRecords",
        {.name = "com.atproto.repo.listRecords", .handler = [&s](Request& req) {
           auto repo = get_param(req, "repo");
           if (!repo) return fail_response(repo.error());
           auto collection = get_param(req, "collection");
           if (!collection) return fail_response(collection.error());
           auto limit = get_limit(req, 50, 100);
           if (!limit) return fail_response(limit.error());
           auto account = s.accounts->get(*repo);
           if (!account) return xrpc_error(400, "RepoNotFound", "Could not find repo: " + *repo);
           std::optional<std::string> cursor;
           if (auto c = req.param("cursor"); c && !c->empty()) cursor = std::string(*c);
           auto rev = req.param("reverse");
           bool reverse = rev && (*rev == "true" || *rev == "1");
           auto rows = s.repo->list_records(account->did, *collection, *limit, cursor, reverse);
           if (!rows) return fail_response(rows.error());
           std::string out = "{";
           if (rows->size() == *limit) out += fmt::format(R"("cursor":{},)", json_quote(rows->back().rkey));
           out += R"("records":[)";
           bool first = true;
           for (const auto& row : *rows) {
             if (!first) out += ',';
             first = false;
             out += fmt::format(R"({{"uri":{},"cid":{},"value":{}}})",
                                json_quote(fmt::format("at://{}/{}/{}", account->did, *collection, row.rkey)),
                                json_quote(row.cid), row.value_json);
           }
           out += "]}";
           return json_response(std::move(out));
         }});
}

}  // namespace blobsync::http
