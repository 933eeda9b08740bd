// systemd::take_listen_fd and notify_* against real sockets: a listening
// TCP socket placed at fd 3 with LISTEN_FDS/LISTEN_PID as systemd sets them,
// and a datagram socket as NOTIFY_SOCKET.
#include "http/systemd.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace blobsync::http {
namespace {

// Puts `fd` at `at` (SD_LISTEN_FDS_START is 3) for the test, restoring what was there.
class AtFd {
 public:
  // REQUIRES: fd != at.
  AtFd(int fd, int at) : at_(at), saved_(::dup(at)) {
    EXPECT_NE(fd, at);
    EXPECT_EQ(::dup2(fd, at), at);
    ::close(fd);
  }
  ~AtFd() {
    if (saved_ >= 0) {
      ::dup2(saved_, at_);
      ::close(saved_);
    } else {
      ::close(at_);
    }
  }
  AtFd(const AtFd&) = delete;
  AtFd& operator=(const AtFd&) = delete;

 private:
  int at_;
  int saved_;
};

void set_listen_env(int count) {
  ::setenv("LISTEN_FDS", std::to_string(count).c_str(), 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
}

int tcp_socket(bool listening) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  if (listening) {
    EXPECT_EQ(::listen(fd, 8), 0);
  }
  // Above the slots AtFd fills, whatever the process has open.
  int high = ::fcntl(fd, F_DUPFD, 10);
  ::close(fd);
  return high;
}

TEST(Systemd, NoSocketActivationIsMinusOne) {
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  auto fd = systemd::take_listen_fd();
  ASSERT_TRUE(fd) << fd.error().to_string();
  EXPECT_EQ(*fd, -1);
}

TEST(Systemd, TakesTheListeningSocketAndUnsetsTheEnvironment) {
  AtFd at(tcp_socket(true), 3);
  set_listen_env(1);
  auto fd = systemd::take_listen_fd();
  ASSERT_TRUE(fd) << fd.error().to_string();
  EXPECT_EQ(*fd, 3);
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);  // not passed on to children
}

TEST(Systemd, AnotherProcessesSocketsAreNotOurs) {
  AtFd at(tcp_socket(true), 3);
  ::setenv("LISTEN_FDS", "1", 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);
  auto fd = systemd::take_listen_fd();
  ASSERT_TRUE(fd);
  EXPECT_EQ(*fd, -1);
}

TEST(Systemd, RefusesASocketThatIsNotListening) {
  AtFd at(tcp_socket(false), 3);
  set_listen_env(1);
  auto fd = systemd::take_listen_fd();
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().to_string().find("not a listening TCP socket"), std::string::npos);
}

TEST(Systemd, RefusesMoreThanOneSocket) {
  AtFd at(tcp_socket(true), 3);
  AtFd at4(tcp_socket(true), 4);
  set_listen_env(2);
  auto fd = systemd::take_listen_fd();
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().to_string().find("2 sockets"), std::string::npos) << fd.error().to_string();
}

TEST(Systemd, NotifiesReadyAndStoppingOnNotifySocket) {
  auto path = std::filesystem::temp_directory_path() / ("systemd_test_" + std::to_string(::getpid()) + ".sock");
  std::filesystem::remove(path);
  int s = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  systemd::notify_ready("serving ./data on 127.0.0.1:3913");
  systemd::notify_stopping();
  ::unsetenv("NOTIFY_SOCKET");
  char buf[512];
  auto n = ::recv(s, buf, sizeof buf, MSG_DONTWAIT);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "READY=1\nSTATUS=serving ./data on 127.0.0.1:3913");
  n = ::recv(s, buf, sizeof buf, MSG_DONTWAIT);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(std::string(buf, static_cast<std::size_t>(n)).starts_with("STOPPING=1\n"));
  ::close(s);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace blobsync::http
