// relay_floor: the floor for bench/sync.sh's fixed-rate measurement. A
// minimal WebSocket relay on one thread with epoll: every message a client
// sends goes, as one unmasked frame, to every connection on the same path
// with one send() each. No Yjs, no storage, no limits: it only shows what one
// system call per delivery costs on this machine (y-websocket's updates and
// awareness are relayed; sync step 1 gets an empty step 2), so the servers' figures
// can be read against it. Not a server to run anywhere else (it trusts its
// clients: a benchmark tool for loopback).
//
//   relay_floor PORT        prints "listening" once bound to 127.0.0.1:PORT
//
// Thread safety: single-threaded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Conn {
  int fd = -1;
  bool open = false;  // handshake done
  std::string path;
  std::string in;
};

std::string accept_key(const std::string& key) {
  std::string s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, md, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

void send_all(int fd, const void* p, std::size_t n) {
  // Blocking-style loop on a non-blocking socket: a benchmark relay whose
  // clients read promptly; a full buffer just spins.
  auto* b = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, b, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return;
    }
    b += w, n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: relay_floor PORT\n");
    return 2;
  }
  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 1024) != 0) {
    std::perror("relay_floor: bind/listen");
    return 1;
  }
  int ep = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = ls;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  std::printf("listening\n");
  std::fflush(stdout);

  std::unordered_map<int, Conn> conns;
  std::map<std::string, std::vector<int>> rooms;
  auto drop = [&](int fd) {
    auto& c = conns[fd];
    auto& r = rooms[c.path];
    std::erase(r, fd);
    ::close(fd);
    conns.erase(fd);
  };
  std::vector<epoll_event> events(256);
  char buf[65536];
  for (;;) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int c = ::accept4(ls, nullptr, nullptr, SOCK_NONBLOCK);
          if (c < 0) break;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c].fd = c;
        }
        continue;
      }
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        drop(fd);
        continue;
      }
      auto& c = conns[fd];
      c.in.append(buf, static_cast<std::size_t>(r));
      if (!c.open) {
        auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        auto sp = c.in.find(' ');
        c.path = c.in.substr(sp + 1, c.in.find(' ', sp + 1) - sp - 1);
        auto k = c.in.find("Sec-WebSocket-Key:");
        if (k == std::string::npos) k = c.in.find("sec-websocket-key:");
        if (k == std::string::npos) {
          drop(fd);
          continue;
        }
        auto v = c.in.find_first_not_of(' ', k + 18);
        std::string key = c.in.substr(v, c.in.find("\r\n", v) - v);
        std::string res = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                          accept_key(key) + "\r\n\r\n";
        send_all(fd, res.data(), res.size());
        c.in.erase(0, end + 4);
        c.open = true;
        rooms[c.path].push_back(fd);
      }
      // Whole frames: unmask, then relay data frames to everyone on the path.
      for (;;) {
        auto& in = c.in;
        if (in.size() < 2) break;
        auto* p = reinterpret_cast<const std::uint8_t*>(in.data());
        std::uint8_t op = p[0] & 0x0f;
        bool masked = p[1] & 0x80;
        std::uint64_t len = p[1] & 0x7f;
        std::size_t h = 2;
        if (len == 126) {
          if (in.size() < 4) break;
          len = (std::uint64_t{p[2]} << 8) | p[3];
          h = 4;
        } else if (len == 127) {
          if (in.size() < 10) break;
          len = 0;
          for (int b = 0; b < 8; ++b) len = (len << 8) | p[2 + b];
          h = 10;
        }
        std::size_t mask_at = h;
        if (masked) h += 4;
        if (in.size() < h + len) break;
        std::string payload = in.substr(h, len);
        if (masked)
          for (std::size_t b = 0; b < len; ++b) payload[b] = static_cast<char>(payload[b] ^ in[mask_at + b % 4]);
        in.erase(0, h + len);
        if (op == 0x8) {  // close
          drop(fd);
          break;
        }
        if (op == 0x9) {  // ping -> pong
          std::string f = std::string("\x8a", 1) + static_cast<char>(payload.size()) + payload;
          send_all(fd, f.data(), f.size());
          continue;
        }
        if (op != 0x2 && op != 0x1) continue;
        // y-websocket: answer sync step 1 with an empty step 2 (the client is
        // then synced), relay updates (0,2) and awareness (1), drop the rest
        // (relaying every step would make each client answer every other).
        if (payload.size() >= 2 && payload[0] == 0 && payload[1] == 0) {
          static const char step2[] = {'\x82', 5, 0, 1, 2, 0, 0};
          send_all(fd, step2, sizeof step2);
          continue;
        }
        bool update = payload.size() >= 2 && payload[0] == 0 && payload[1] == 2;
        if (!update && !(payload.size() >= 1 && payload[0] == 1)) continue;
        std::string frame;
        frame.push_back(static_cast<char>(0x80 | op));
        if (len < 126) {
          frame.push_back(static_cast<char>(len));
        } else if (len <= 0xffff) {
          frame.push_back(126);
          frame.push_back(static_cast<char>(len >> 8));
          frame.push_back(static_cast<char>(len));
        } else {
          frame.push_back(127);
          for (int s = 56; s >= 0; s -= 8) frame.push_back(static_cast<char>(len >> s));
        }
        frame += payload;
        // One send per delivery, to every connection on the path but the sender.
        for (int to : rooms[c.path])
          if (to != fd) send_all(to, frame.data(), frame.size());
      }
    }
  }
}
