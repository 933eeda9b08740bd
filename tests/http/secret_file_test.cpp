#include "http/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace blobsync::http {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/blobsync-secret-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(SecretFile, GeneratedOnceMode0600AndReused) {
  TempDir dir;
  ServerConfig c;
  c.data_dir = dir.path;
  auto first = load_room_token_secret(c, true);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->size(), 64u);  // the hex text is the key
  struct stat st{};
  ASSERT_EQ(::stat((dir.path / "room_token.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = load_room_token_secret(c, true);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  // The file's first line as a config value is the same key.
  std::ifstream in(dir.path / "room_token.secret");
  std::getline(in, c.room_token_secret);
  EXPECT_EQ(*load_room_token_secret(c, true), *first);
}

TEST(SecretFile, ClearErrors) {
  TempDir dir;
  ServerConfig c;
  c.data_dir = dir.path / "missing";
  auto none = load_room_token_secret(c, true);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::kNotFound);
  EXPECT_NE(none.error().message.find("room_token_secret"), std::string::npos);
  EXPECT_NE(none.error().message.find("missing"), std::string::npos);
  c.data_dir = dir.path;
  auto absent = load_room_token_secret(c, false);  // no create: not made up
  ASSERT_FALSE(absent);
  EXPECT_FALSE(std::filesystem::exists(dir.path / "room_token.secret"));
  std::ofstream(dir.path / "room_token.secret") << "short\n";
  auto bad = load_room_token_secret(c, true);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kCorruption);
  c.room_token_secret = std::string(32, 'k');  // configured: the file is not read
  EXPECT_TRUE(load_room_token_secret(c, false));
}

}  // namespace
}  // namespace blobsync::http
