#include "http/secret_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <fstream>
#include <string>

namespace blobsync::http {

Result<std::vector<std::uint8_t>> load_secret_file(const std::filesystem::path& path, bool create) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) return fail(Errc::kNotFound, "{} does not exist", path.string());
    if (sodium_init() < 0) return fail(Errc::kInternal, "libsodium failed to initialise");
    std::uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return std::unexpected(errno_error(errno, "create " + path.string()));
    if (fd >= 0) {
      std::string text = std::string(hex) + "\n";
      bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
      int err = errno;
      ::close(fd);
      if (!ok) return std::unexpected(errno_error(err, "write " + path.string()));
      spdlog::info("generated a secret in {}", path.string());
    }
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    spdlog::warn("{} is readable by other users (mode {:o}); chmod 600 it", path.string(), st.st_mode & 0777);
  std::ifstream in(path);
  if (!in) return fail(Errc::kIOError, "cannot read {}", path.string());
  std::string text;
  std::getline(in, text);
  if (text.size() < 32) return fail(Errc::kCorruption, "{} does not hold a secret (expected 64 hex digits)", path.string());
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

Result<std::vector<std::uint8_t>> load_room_token_secret(const ServerConfig& config, bool create) {
  const auto& key = config.room_token_secret;
  if (!key.empty()) return std::vector<std::uint8_t>(key.begin(), key.end());
  std::error_code ec;
  if (!std::filesystem::is_directory(config.data_dir, ec))
    return fail(Errc::kNotFound, "no room_token_secret configured and no data directory {} to keep one in",
                config.data_dir.string());
  auto path = config.data_dir / "room_token.secret";
  auto secret = load_secret_file(path, create);
  if (!secret && secret.error().code == Errc::kNotFound)
    return fail(Errc::kNotFound, "no room_token_secret configured and no {}", path.string());
  return secret;
}

}  // namespace blobsync::http
