// JSON helpers of the XRPC handlers (src/http/json_util.cpp): every bad body
// or parameter is a 400 InvalidRequest naming the problem.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "http/json_util.h"

namespace blobsync::http {
namespace {

Request json_request(std::string body, std::string content_type = "application/json") {
  Request r;
  if (!content_type.empty()) r.headers.emplace_back("content-type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

void expect_400(const XrpcFailure& f, std::string_view mentions) {
  EXPECT_EQ(f.status, 400);
  EXPECT_EQ(f.name, "InvalidRequest");
  EXPECT_NE(f.message.find(mentions), std::string::npos) << f.message;
}

TEST(JsonUtil, ParsesAnObjectBody) {
  auto o = parse_json_body(json_request(R"({"a":"x","n":1})", "application/json; charset=utf-8"));
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->at("a").as_string(), "x");
}

TEST(JsonUtil, RefusesBadBodies) {
  auto r = parse_json_body(json_request("{}", ""));
  ASSERT_FALSE(r);
  expect_400(r.error(), "Content-Type");
  r = parse_json_body(json_request("{}", "text/plain"));
  ASSERT_FALSE(r);
  expect_400(r.error(), "text/plain");
  r = parse_json_body(json_request("{}", "application/jsonx"));
  ASSERT_FALSE(r);
  r = parse_json_body(json_request(""));
  ASSERT_FALSE(r);
  expect_400(r.error(), "body");
  r = parse_json_body(json_request("{\"a\":"));
  ASSERT_FALSE(r);
  expect_400(r.error(), "Invalid JSON");
  r = parse_json_body(json_request("[1,2]"));
  ASSERT_FALSE(r);
  expect_400(r.error(), "must be an object");
  r = parse_json_body(json_request("\"text\""));
  ASSERT_FALSE(r);
}

// Nesting is bounded (64 levels), so deep bodies cannot exhaust the stack of
// the recursive walkers behind it.
TEST(JsonUtil, DepthIsBounded) {
  auto nested = [](int depth) {
    std::string s = "{\"a\":";
    for (int i = 1; i < depth; ++i) s += "[";
    s += "1";
    for (int i = 1; i < depth; ++i) s += "]";
    return s + "}";
  };
  EXPECT_TRUE(parse_json_body(json_request(nested(64))));
  auto deep = parse_json_body(json_request(nested(100000)));
  ASSERT_FALSE(deep);
  expect_400(deep.error(), "Invalid JSON");
}

TEST(JsonUtil, Strings) {
  auto o = boost::json::parse(R"({"s":"v","n":1,"z":null})").as_object();
  EXPECT_EQ(*get_string(o, "s"), "v");
  auto missing = get_string(o, "nope");
  ASSERT_FALSE(missing);
  expect_400(missing.error(), "\"nope\"");
  ASSERT_FALSE(get_string(o, "z"));  // null is missing
  auto wrong = get_string(o, "n");
  ASSERT_FALSE(wrong);
  expect_400(wrong.error(), "n must be a string");

  EXPECT_EQ(*get_opt_string(o, "s"), std::optional<std::string>("v"));
  EXPECT_EQ(*get_opt_string(o, "nope"), std::nullopt);
  EXPECT_EQ(*get_opt_string(o, "z"), std::nullopt);
  ASSERT_FALSE(get_opt_string(o, "n"));
}

TEST(JsonUtil, Limit) {
  auto with = [](std::string v) {
    Request r;
    r.query.emplace_back("limit", std::move(v));
    return r;
  };
  EXPECT_EQ(*get_limit(Request{}, 50, 1000), 50u);
  EXPECT_EQ(*get_limit(with("1"), 50, 1000), 1u);
  EXPECT_EQ(*get_limit(with("1000"), 50, 1000), 1000u);
  for (const char* bad : {"0", "1001", "-1", "", "abc", "5x", " 5", "+5", "99999999999999999999999"}) {
    auto r = get_limit(with(bad), 50, 1000);
    ASSERT_FALSE(r) << bad;
    expect_400(r.error(), "limit must be an integer from 1 to 1000");
  }
}

TEST(JsonUtil, Params) {
  Request r;
  r.query = {{"did", "did:plc:x"}, {"empty", ""}};
  EXPECT_EQ(*get_param(r, "did"), "did:plc:x");
  auto missing = get_param(r, "cid");
  ASSERT_FALSE(missing);
  expect_400(missing.error(), "\"cid\"");
  ASSERT_FALSE(get_param(r, "empty"));  // present but empty is missing too
}

TEST(JsonUtil, JsonOk) {
  boost::json::object o;
  o["cid"] = "bafk";
  auto r = json_ok(o);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"cid":"bafk"})");
  ASSERT_TRUE(r.header("Content-Type"));
  EXPECT_TRUE(r.header("Content-Type")->starts_with("application/json"));
}

}  // namespace
}  // namespace blobsync::http
