#include "http/lexicon.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace blobsync::http {
namespace {

namespace json = boost::json;

const std::string kCid = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

json::object blob(std::string_view mime = "image/png", std::int64_t size = 100) {
  return json::object{{"$type", "blob"}, {"ref", {{"$link", kCid}}}, {"mimeType", mime}, {"size", size}};
}

json::object post_with_images(json::value image) {
  json::object post{{"$type", "app.bsky.feed.post"}, {"text", "hi"}, {"createdAt", "2024-01-02T03:04:05.678Z"}};
  post["embed"] = json::object{{"$type", "app.bsky.embed.images"},
                               {"images", json::array{json::object{{"alt", "a"}, {"image", std::move(image)}}}}};
  return post;
}

std::string error_of(std::string_view nsid, const json::object& record) {
  auto r = Lexicons::builtin().validate_record(nsid, record);
  return r ? "" : r.error();
}

TEST(LexiconTest, TableHasTheBlobBearingRecords) {
  const auto& lex = Lexicons::builtin();
  for (const char* nsid : {"app.bsky.feed.post", "app.bsky.actor.profile", "app.bsky.feed.generator",
                           "app.bsky.graph.list", "app.bsky.feed.like", "app.bsky.graph.follow"})
    EXPECT_TRUE(lex.knows_record(nsid)) << nsid;
  EXPECT_FALSE(lex.knows_record("com.example.thing"));
  EXPECT_FALSE(lex.knows_record("app.bsky.embed.images"));  // a definition, not a record
  EXPECT_FALSE(lex.knows_record("app.bsky.feed.post#replyRef"));
}

TEST(LexiconTest, ValidPostReturnsItsBlobSlotWithConstraints) {
  auto r = Lexicons::builtin().validate_record("app.bsky.feed.post", post_with_images(blob()));
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].path, "Record/embed/images/0/image");
  EXPECT_EQ((*r)[0].cid, kCid);
  EXPECT_EQ((*r)[0].accept, std::vector<std::string>{"image/*"});
  EXPECT_EQ((*r)[0].max_size, 2000000u);  // @atproto/api 0.21.0
}

TEST(LexiconTest, NonBlobInABlobSlotIsRefusedEvenWithANestedRef) {
  // The issue's case: a plain object holding a valid ref one level down.
  EXPECT_EQ(error_of("app.bsky.feed.post", post_with_images(json::object{{"inner", blob()}})),
            "Record/embed/images/0/image should be a blob ref");
  EXPECT_EQ(error_of("app.bsky.feed.post", post_with_images("not a blob")),
            "Record/embed/images/0/image should be a blob ref");
  auto legacy = json::object{{"cid", kCid}, {"mimeType", "image/png"}};
  EXPECT_EQ(error_of("app.bsky.feed.post", post_with_images(legacy)), "Record/embed/images/0/image should be a blob ref");
  auto bad_cid = blob();
  bad_cid["ref"] = json::object{{"$link", "not-a-cid"}};
  EXPECT_EQ(error_of("app.bsky.feed.post", post_with_images(bad_cid)), "Record/embed/images/0/image should be a blob ref");
}

TEST(LexiconTest, ProfileAvatarAndBannerAreSlots) {
  json::object profile{{"$type", "app.bsky.actor.profile"}, {"avatar", blob("image/jpeg")}, {"banner", blob()}};
  auto r = Lexicons::builtin().validate_record("app.bsky.actor.profile", profile);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 2u);
  for (const auto& slot : *r) EXPECT_EQ(slot.max_size, 1000000u) << slot.path;
  profile["avatar"] = json::object{{"x", 1}};
  EXPECT_EQ(error_of("app.bsky.actor.profile", profile), "Record/avatar should be a blob ref");
}

TEST(LexiconTest, RequiredTypesAndLimits) {
  auto post = obj(R"({"$type":"app.bsky.feed.post","createdAt":"2024-01-02T03:04:05Z"})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record must have the property \"text\"");
  post["text"] = 5;
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/text must be a string");
  post["text"] = std::string(3001, 'a');
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/text must not be longer than 3000 characters");
  post["text"] = std::string(301, 'a');
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/text must not be longer than 300 graphemes");
  // 300 letters each with a combining accent: 600 code points, 300 graphemes.
  std::string accented;
  for (int i = 0; i < 300; ++i) accented += "e\xCC\x81";
  post["text"] = accented;
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "");
  post["text"] = "ok";
  post["createdAt"] = "yesterday";
  EXPECT_EQ(error_of("app.bsky.feed.post", post),
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)");
  post["createdAt"] = "2024-01-02T03:04:05+02:00";
  post["langs"] = json::array{"en", "pt-BR", "de", "fr"};
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/langs must not have more than 3 elements");
  post["langs"] = json::array{"en", "not a tag"};
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/langs/1 must be a well-formed BCP 47 language tag");
  post.erase("langs");
  post["reply"] = obj(R"({"root":{"uri":"at://did:plc:abc/app.bsky.feed.post/3k","cid":"Qm-short"},
                          "parent":{"uri":"https://x","cid":"bafyreiabcdefgh"}})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/reply/root/cid must be a cid string");
  post["reply"].as_object()["root"].as_object()["cid"] = "bafyreiabcdefgh";
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/reply/parent/uri must be a valid at-uri");
}

TEST(LexiconTest, UnionsOpenAndTyped) {
  auto post = obj(R"({"$type":"app.bsky.feed.post","text":"","createdAt":"2024-01-02T03:04:05Z",
                      "embed":{"images":[]}})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/embed must be an object which includes the \"$type\" property");
  // An open union: a type the table does not know passes unchecked.
  post["embed"] = obj(R"({"$type":"com.example.embed","anything":[1,2]})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "");
  // "#main" spelled out is the same type.
  post["embed"] = obj(R"({"$type":"app.bsky.embed.images#main"})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/embed must have the property \"images\"");
  post["embed"] = obj(R"({"$type":"app.bsky.embed.external","external":{"uri":"https://example.com","title":"t",
                          "description":"d","thumb":{"oops":true}}})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/embed/external/thumb should be a blob ref");
  post["embed"] = obj(R"({"$type":"app.bsky.embed.video","video":{"$type":"blob","ref":{"$link":"bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},"mimeType":"video/mp4","size":5}})");
  auto r = Lexicons::builtin().validate_record("app.bsky.feed.post", post);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].accept, std::vector<std::string>{"video/mp4"});
  EXPECT_EQ((*r)[0].path, "Record/embed/video");
}

TEST(LexiconTest, NullableAndIntegers) {
  auto like = obj(R"({"$type":"app.bsky.feed.like","subject":null,"createdAt":"2024-01-02T03:04:05Z"})");
  EXPECT_EQ(error_of("app.bsky.feed.like", like), "Record/subject must be an object");
  auto post = obj(R"({"$type":"app.bsky.feed.post","text":"x","createdAt":"2024-01-02T03:04:05Z",
     "facets":[{"index":{"byteStart":-1,"byteEnd":2},"features":[]}]})");
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/facets/0/index/byteStart can not be less than 0");
  post["facets"].as_array()[0].as_object()["index"].as_object()["byteStart"] = 1.5;
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/facets/0/index/byteStart must be an integer");
  post["facets"].as_array()[0].as_object()["index"].as_object()["byteStart"] = 1.0;
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "");
}

TEST(LexiconTest, MimeAccepted) {
  EXPECT_TRUE(mime_accepted("image/png", {"image/*"}));
  EXPECT_TRUE(mime_accepted("IMAGE/PNG", {"image/png"}));
  EXPECT_TRUE(mime_accepted("text/plain", {"*/*"}));
  EXPECT_FALSE(mime_accepted("video/mp4", {"image/*"}));
  EXPECT_FALSE(mime_accepted("imagex/png", {"image/*"}));
  EXPECT_FALSE(mime_accepted("image/png", {"image/jpeg", "video/*"}));
}

TEST(LexiconTest, Graphemes) {
  EXPECT_EQ(approx_graphemes(""), 0u);
  EXPECT_EQ(approx_graphemes("abc"), 3u);
  EXPECT_EQ(approx_graphemes("e\xCC\x81"), 1u);                           // e + combining acute
  EXPECT_EQ(approx_graphemes("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), 1u);    // thumbs up + skin tone
  EXPECT_EQ(approx_graphemes("\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA!"), 2u);   // flag DE + '!'
  // family: man ZWJ woman ZWJ girl
  EXPECT_EQ(approx_graphemes("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"), 1u);
}

TEST(LexiconTest, HostileInputCostsLinearTime) {
  // A long array of long strings with combining marks and a deep-ish union chain.
  json::array langs;
  auto post = post_with_images(blob());
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "e\xCC\x81";
  post["text"] = text;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/text must not be longer than 3000 characters");
  json::array images;
  for (int i = 0; i < 100000; ++i) images.push_back(json::object{{"alt", "a"}, {"image", blob()}});
  post["text"] = "x";
  post["embed"].as_object()["images"] = images;
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/embed/images must not have more than 4 elements");
  json::object labels{{"$type", "com.atproto.label.defs#selfLabels"}};
  json::array values;
  for (int i = 0; i < 100000; ++i) values.push_back(json::object{{"val", std::string(100, 'v')}});
  labels["values"] = values;
  post["embed"].as_object()["images"] = json::array{json::object{{"alt", "a"}, {"image", blob()}}};
  post["labels"] = labels;
  EXPECT_EQ(error_of("app.bsky.feed.post", post), "Record/labels/values must not have more than 10 elements");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(LexiconTest, MalformedTableEntryOfAnotherTableIsUsable) {
  // A table of one record: refs it cannot resolve check nothing rather than crash.
  const char* defs[] = {
      R"({"id":"com.example.rec#main","def":{"type":"record","record":{"type":"object","required":["a"],
          "properties":{"a":{"type":"ref","ref":"com.example.missing#main"},"b":{"type":"bytes","maxLength":3},
          "c":{"type":"cid-link"},"d":{"type":"string","enum":["x","y"]},"e":{"type":"boolean","const":true}}}}})"};
  Lexicons lex(defs);
  EXPECT_EQ(lex.size(), 1u);
  ASSERT_TRUE(lex.knows_record("com.example.rec"));
  EXPECT_TRUE(lex.validate_record("com.example.rec", obj(R"({"a":1})")));
  EXPECT_EQ(lex.validate_record("com.example.rec", obj(R"({"a":1,"b":{"$bytes":"AAAAAAAA"}})")).error(),
            "Record/b must not be larger than 3 bytes");
  EXPECT_EQ(lex.validate_record("com.example.rec", obj(R"({"a":1,"c":{"$link":"x"}})")).error(),
            "Record/c must be a CID");
  EXPECT_EQ(lex.validate_record("com.example.rec", obj(R"({"a":1,"d":"z"})")).error(), "Record/d must be one of (x|y)");
  EXPECT_EQ(lex.validate_record("com.example.rec", obj(R"({"a":1,"e":false})")).error(), "Record/e must be true");
}

}  // namespace
}  // namespace blobsync::http
