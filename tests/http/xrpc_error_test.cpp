// XRPC errors (src/http/xrpc_error.cpp): core error codes to HTTP statuses
// and XRPC error names, and the JSON body they are sent as.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "http/xrpc_error.h"

namespace blobsync::http {
namespace {

TEST(XrpcError, ClientErrorsKeepTheirMessage) {
  struct Case {
    Errc code;
    int status;
    const char* name;
  };
  for (const auto& c : {Case{Errc::kInvalidArgument, 400, "InvalidRequest"}, Case{Errc::kNotFound, 400, "NotFound"},
                        Case{Errc::kAlreadyExists, 400, "InvalidRequest"},
                        Case{Errc::kCorruption, 400, "InvalidRequest"},
                        Case{Errc::kUnsupported, 415, "UnsupportedMediaType"},
                        Case{Errc::kUnauthenticated, 401, "AuthenticationRequired"},
                        Case{Errc::kForbidden, 403, "Forbidden"}, Case{Errc::kConflict, 409, "Conflict"}}) {
    auto f = to_xrpc(Error{c.code, "the reason"});
    EXPECT_EQ(f.status, c.status) << errc_name(c.code);
    EXPECT_EQ(f.name, c.name) << errc_name(c.code);
    EXPECT_EQ(f.message, "the reason") << errc_name(c.code);
  }
}

TEST(XrpcError, FixedMessagesForLimitsTimeoutsAndSpace) {
  auto big = to_xrpc(Error{Errc::kTooLarge, "blob of 123 bytes over limit 100"});
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.name, "PayloadTooLarge");
  auto slow = to_xrpc(Error{Errc::kTimeout, "x"});
  EXPECT_EQ(slow.status, 504);
  EXPECT_EQ(slow.name, "UpstreamTimeout");
  auto full = to_xrpc(Error{Errc::kNoSpace, "write /var/data/blobs/tmp/x: No space left"});
  EXPECT_EQ(full.status, 507);
  EXPECT_EQ(full.name, "InsufficientStorage");
  EXPECT_EQ(full.message.find("/var/data"), std::string::npos);  // no server paths to clients
}

// Everything else is a 500 whose message (paths, SQL, backend detail) is
// hidden from the client.
TEST(XrpcError, InternalErrorsHideTheirMessage) {
  for (Errc code : {Errc::kIOError, Errc::kPermissionDenied, Errc::kCancelled, Errc::kInternal}) {
    auto f = to_xrpc(Error{code, "open /srv/secret/meta.db: Permission denied"});
    EXPECT_EQ(f.status, 500) << errc_name(code);
    EXPECT_EQ(f.name, "InternalServerError");
    EXPECT_EQ(f.message.find("secret"), std::string::npos) << f.message;
  }
}

TEST(XrpcError, ResponseIsTheXrpcJsonBody) {
  auto r = to_response(XrpcFailure{404, "BlobNotFound", "Blob \"x\"\nnot found"});
  EXPECT_EQ(r.status, 404);
  ASSERT_TRUE(r.header("content-type"));
  EXPECT_TRUE(r.header("content-type")->starts_with("application/json"));
  auto body = boost::json::parse(r.body).as_object();  // valid JSON whatever the message holds
  EXPECT_EQ(body.at("error").as_string(), "BlobNotFound");
  EXPECT_EQ(body.at("message").as_string(), "Blob \"x\"\nnot found");
  // The default failure is a plain 500.
  auto d = to_response(XrpcFailure{});
  EXPECT_EQ(d.status, 500);
  EXPECT_EQ(boost::json::parse(d.body).at("error").as_string(), "InternalServerError");
}

TEST(XrpcError, XfailMakesAnError) {
  XResult<int> r = xfail(413, "BlobTooLarge", "too big");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 413);
  EXPECT_EQ(r.error().name, "BlobTooLarge");
  EXPECT_EQ(r.error().message, "too big");
  XResult<int> ok = 7;
  EXPECT_EQ(ok, 7);
}

}  // namespace
}  // namespace blobsync::http
