// AccessLog (src/http/access_log.cpp): one JSON line per request, whatever
// the client put in the path; "off" writes nothing; an unwritable path is a
// clear error. Every server test runs with the log off, so this is its test.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "http/access_log.h"

namespace blobsync::http {
namespace {

class AccessLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("blobsync-access-log-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::vector<std::string> lines(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  std::filesystem::path dir_;
};

TEST_F(AccessLogTest, OneJsonLinePerRequest) {
  auto path = dir_ / "access.log";
  auto log = AccessLog::open(path.string());
  ASSERT_TRUE(log) << log.error().to_string();
  // A hostile path: quotes, a newline and a control byte must not break the line.
  const std::string evil = "/blobs/\"x\"\n{\"forged\":1}\x01";
  (*log)->log({"127.0.0.1:5555", "GET", evil, "blobs.get", "", 404, 0, 210, 3.14159});
  (*log)->log({"[::1]:1", "POST", "/xrpc/com.atproto.repo.uploadBlob", "com.atproto.repo.uploadBlob",
               "did:plc:abc", 200, 1234, 99, 0.5});
  auto got = lines(path);  // flushed per line
  ASSERT_EQ(got.size(), 2u);
  auto first = boost::json::parse(got[0]).as_object();
  EXPECT_EQ(first.at("path").as_string(), evil);
  EXPECT_EQ(first.at("remote").as_string(), "127.0.0.1:5555");
  EXPECT_EQ(first.at("method").as_string(), "GET");
  EXPECT_EQ(first.at("route").as_string(), "blobs.get");
  EXPECT_EQ(first.at("status").as_int64(), 404);
  EXPECT_EQ(first.at("in").as_int64(), 0);
  EXPECT_EQ(first.at("out").as_int64(), 210);
  EXPECT_DOUBLE_EQ(first.at("ms").to_number<double>(), 3.14);
  EXPECT_FALSE(first.contains("did"));  // only when authenticated
  std::string ts(first.at("ts").as_string());
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2025-01-01T00:00:00.123Z
  EXPECT_EQ(ts.back(), 'Z');
  auto second = boost::json::parse(got[1]).as_object();
  EXPECT_EQ(second.at("did").as_string(), "did:plc:abc");
  EXPECT_EQ(second.at("in").as_int64(), 1234);
}

TEST_F(AccessLogTest, AppendsToAnExistingFile) {
  auto path = dir_ / "access.log";
  { std::ofstream(path) << "earlier\n"; }
  auto log = AccessLog::open(path.string());
  ASSERT_TRUE(log);
  (*log)->log({"r", "GET", "/", "", "", 404, 0, 0, 0});
  auto got = lines(path);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "earlier");
}

TEST_F(AccessLogTest, OffWritesNothing) {
  auto log = AccessLog::open("off");
  ASSERT_TRUE(log);
  (*log)->log({"r", "GET", "/", "", "", 200, 0, 0, 0});  // no logger: a no-op
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
  EXPECT_FALSE(std::filesystem::exists("off"));  // "off" is not a file name
}

TEST_F(AccessLogTest, UnwritablePathIsAClearError) {
  auto file = dir_ / "file";
  { std::ofstream(file) << "x"; }
  auto log = AccessLog::open((file / "access.log").string());  // under a regular file
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().code, Errc::kIOError);
  EXPECT_NE(log.error().message.find("cannot open access log"), std::string::npos) << log.error().message;
  EXPECT_NE(log.error().message.find(file.string()), std::string::npos) << log.error().message;
}

}  // namespace
}  // namespace blobsync::http
