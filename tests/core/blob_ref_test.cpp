#include "core/blob_ref.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace blobsync {
namespace {

TEST(BlobRef, JsonRoundTrip) {
  BlobRef ref{Sha256::of("hello", 5), 5, "text/plain", "hello.txt", 1};
  std::string json = to_json(ref);
  EXPECT_EQ(json,
            "{\"hash\":\"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\",\"size\":5,"
            "\"mimeType\":\"text/plain\",\"filename\":\"hello.txt\",\"chunkCount\":1}");
  auto back = blob_ref_from_json(json);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, ref);
}

TEST(BlobRef, RejectsMalformed) {
  const char* bad[] = {
      "",
      "[]",
      "{\"hash\":\"sha256:00\",\"size\":1,\"mimeType\":\"a\",\"filename\":\"b\",\"chunkCount\":1}",
      "{\"size\":1,\"mimeType\":\"a\",\"filename\":\"b\",\"chunkCount\":1}",
      "{\"hash\":\"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku\",\"size\":0,\"mimeType\":\"a\","
      "\"filename\":\"b\",\"chunkCount\":0}",
      "{\"hash\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":-1,"
      "\"mimeType\":\"a\",\"filename\":\"b\",\"chunkCount\":0}",
      "{\"hash\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0,"
      "\"mimeType\":\"a\",\"filename\":\"b\",\"chunkCount\":1}",
  };
  for (const char* s : bad) EXPECT_FALSE(blob_ref_from_json(s).has_value()) << s;
}

}  // namespace
}  // namespace blobsync
