// sync_load: a load generator for y-websocket servers (ours and the JS
// reference), one thread, epoll, raw sockets and a minimal WebSocket client
// (RFC 6455: masked client frames, pings answered), so the generator is not
// the bottleneck.
//
//   sync_load throughput --port P --clients 100 --seconds 10 [--window 4]
//     Every client appends to its own Y.Text (updates made by the CRDT core,
//     ~25 bytes), keeping up to `window` of its updates unechoed. Counts every
//     [0,2,update] delivered to every client; latency = delivery time minus
//     the send time of that update (matched by its client id and clock).
//   sync_load rooms --port P --count N [--first K]
//     N rooms (room-K ... room-(K+N-1)), each: connect, one update, wait for
//     its echo, close.
//   sync_load idle --port P --count N [--rooms R] [--hello 1]
//     Opens N connections (spread over R rooms), prints "ready", and keeps
//     them open (answering pings) until stdin closes. --hello 1: after the
//     greeting each sends sync step 1 and an awareness state, as a
//     y-websocket client does on opening (then nothing more).
//   sync_load load --port P --count N [--updates 32] [--bytes 2048]
//                  [--parallel 50] [--first K]
//     N rooms (load-K ...), one connection each, as a y-websocket client
//     opens a document: after the server's greeting it sends sync step 1
//     and its awareness state, then writes `bytes` of text in `updates`
//     updates, each sent once the previous one came back (a user typing;
//     the server echoes every update to its sender). `parallel` rooms load
//     at a time. Prints "ready N SECONDS" once every room is loaded and
//     keeps every connection open (answering pings) until stdin closes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "crdt/doc.h"
#include "crdt/lib0.h"
#include "crdt/text.h"

namespace {

using Clock = std::chrono::steady_clock;
double now_us() { return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count(); }

struct Conn {
  int fd = -1;
  int index = 0;
  bool upgraded = false;
  std::string in, out;
  // throughput mode
  std::unique_ptr<blobsync::crdt::Doc> doc;
  std::uint64_t client = 0;
  int outstanding = 0;
  std::uint64_t sent = 0;
  bool got_greeting = false;
};

std::string frame(const std::uint8_t* data, std::size_t n, std::uint8_t opcode = 2) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  f.append(4, '\0');  // mask key 0: valid, and the payload needs no XOR
  f.append(reinterpret_cast<const char*>(data), n);
  return f;
}

class Loop {
 public:
  Loop(std::string host, int port) : host_(std::move(host)), port_(port), ep_(epoll_create1(0)) {}

  Conn* connect(const std::string& room, int index) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) { perror("socket"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    inet_pton(AF_INET, host_.c_str(), &a.sin_addr);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->index = index;
    c->out = "GET /" + prefix_ + room + " HTTP/1.1\r\nHost: " + host_ + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.ptr = c.get();
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    auto* raw = c.get();
    conns_.push_back(std::move(c));
    return raw;
  }

  void set_prefix(std::string p) { prefix_ = std::move(p); }

  void send(Conn& c, const std::vector<std::uint8_t>& msg) {
    c.out += frame(msg.data(), msg.size());
    flush(c);
  }

  void flush(Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      c.out.erase(0, static_cast<std::size_t>(n));
    }
  }

  void close(Conn& c) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
  }

  // Runs until `until` returns true or deadline; calls on_msg for each binary message.
  template <class OnMsg, class Until>
  void run(OnMsg on_msg, Until until, double deadline_us) {
    std::vector<epoll_event> evs(1024);
    char buf[65536];
    while (!until() && now_us() < deadline_us) {
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 50);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(evs[i].data.ptr);
        if (c->fd < 0) continue;
        if (evs[i].events & EPOLLOUT) flush(*c);
        if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
        for (;;) {
          ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
          if (r <= 0) break;
          c->in.append(buf, static_cast<std::size_t>(r));
        }
        parse(*c, on_msg);
      }
    }
  }

  std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }

 private:
  template <class OnMsg>
  void parse(Conn& c, OnMsg& on_msg) {
    if (!c.upgraded) {
      auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
        fprintf(stderr, "upgrade refused: %s\n", c.in.substr(0, end).c_str());
        exit(1);
      }
      c.in.erase(0, end + 4);
      c.upgraded = true;
    }
    std::size_t pos = 0;
    for (;;) {
      if (c.in.size() - pos < 2) break;
      auto* p = reinterpret_cast<const std::uint8_t*>(c.in.data() + pos);
      std::uint8_t opcode = p[0] & 0x0f;
      std::uint64_t len = p[1] & 0x7f;
      std::size_t h = 2;
      if (len == 126) {
        if (c.in.size() - pos < 4) break;
        len = (std::uint64_t{p[2]} << 8) | p[3];
        h = 4;
      } else if (len == 127) {
        if (c.in.size() - pos < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
        h = 10;
      }
      if (c.in.size() - pos < h + len) break;
      const std::uint8_t* payload = p + h;
      if (opcode == 9) {
        c.out += frame(payload, len, 10);
        flush(c);
      } else if (opcode == 2) {
        on_msg(c, payload, static_cast<std::size_t>(len));
      }
      pos += h + len;
    }
    c.in.erase(0, pos);
  }

  std::string host_;
  int port_;
  int ep_;
  std::string prefix_ = "";
  std::vector<std::unique_ptr<Conn>> conns_;
};

std::uint64_t read_vu(const std::uint8_t*& p, const std::uint8_t* end) {
  std::uint64_t v = 0;
  int shift = 0;
  while (p < end) {
    std::uint8_t b = *p++;
    v |= std::uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  return v;
}

// Appends `chars` characters to the connection's one Y.Text "t"; returns the
// [0,2,update] message.
std::vector<std::uint8_t> make_text_update(Conn& c, std::size_t chars) {
  std::vector<std::uint8_t> out;
  int h = c.doc->on_update([&](const blobsync::crdt::Bytes& u, const blobsync::crdt::Transaction&) {
    out = {0, 2};
    blobsync::crdt::Encoder e;
    e.write_var_bytes(u);
    out.insert(out.end(), e.bytes().begin(), e.bytes().end());
  });
  auto text = c.doc->get_text("t");
  std::string s(chars, static_cast<char>('a' + c.sent % 26));
  text.insert_utf8(text.length(), s);
  c.doc->off(h);
  return out;
}

std::vector<std::uint8_t> make_update(Conn& c) {
  std::vector<std::uint8_t> out;
  int h = c.doc->on_update([&](const blobsync::crdt::Bytes& u, const blobsync::crdt::Transaction&) {
    out.clear();
    out.push_back(0);
    out.push_back(2);
    blobsync::crdt::Encoder e;
    e.write_var_bytes(u);
    out.insert(out.end(), e.bytes().begin(), e.bytes().end());
  });
  auto text = c.doc->get_text("t" + std::to_string(c.index));
  text.insert_utf8(text.length(), "x");
  c.doc->off(h);
  return out;
}

std::string arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

// What a y-websocket client sends on opening a document: sync step 1 (an
// empty state vector) and its awareness state (one client, clock 1, "{}").
void send_hello(Loop& loop, Conn& c, std::uint64_t awareness_client) {
  loop.send(c, {0, 0, 1, 0});
  blobsync::crdt::Encoder aw, m;
  aw.write_var_uint(1);
  aw.write_var_uint(awareness_client);
  aw.write_var_uint(1);
  aw.write_var_string("{}");
  m.write_var_uint(1);
  m.write_var_bytes(aw.bytes());
  loop.send(c, m.bytes());
}

// Keeps the connections open (answering as `on_msg` does) until the bench
// script closes our stdin.
template <class OnMsg>
void hold_until_stdin_closes(Loop& loop, OnMsg& on_msg) {
  fcntl(0, F_SETFL, O_NONBLOCK);
  char b;
  for (;;) {
    loop.run(on_msg, [] { return false; }, now_us() + 200e3);
    if (::read(0, &b, 1) == 0) break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: sync_load throughput|rooms|idle --port P [...]\n");
    return 2;
  }
  std::string mode = argv[1];
  std::string host = arg(argc, argv, "--host", "127.0.0.1");
  int port = std::stoi(arg(argc, argv, "--port", "3913"));
  Loop loop(host, port);
  loop.set_prefix(arg(argc, argv, "--prefix", "sync/"));

  if (mode == "throughput") {
    int clients = std::stoi(arg(argc, argv, "--clients", "100"));
    double seconds = std::stod(arg(argc, argv, "--seconds", "10"));
    int window = std::stoi(arg(argc, argv, "--window", "4"));
    std::string room = arg(argc, argv, "--room", "bench");
    std::unordered_map<std::uint64_t, Conn*> by_client;
    for (int i = 0; i < clients; ++i) {
      auto* c = loop.connect(room, i);
      c->doc = std::make_unique<blobsync::crdt::Doc>(static_cast<std::uint64_t>(1000 + i));
      c->client = 1000 + static_cast<std::uint64_t>(i);
      by_client[c->client] = c;
    }
    int greeted = 0;
    std::unordered_map<std::uint64_t, double> sent_at;  // (client << 24 | clock) -> us
    bool measuring = false;
    std::uint64_t delivered = 0;
    std::vector<float> lat;
    lat.reserve(20'000'000);
    auto pump = [&](Conn& c) {
      while (c.outstanding < window) {
        auto msg = make_update(c);
        sent_at[(c.client << 24) | c.sent] = now_us();
        ++c.sent;
        ++c.outstanding;
        loop.send(c, msg);
      }
    };
    auto on_msg = [&](Conn& c, const std::uint8_t* p, std::size_t n) {
      if (n >= 2 && p[0] == 0 && p[1] == 0 && !c.got_greeting) {
        c.got_greeting = true;
        ++greeted;
        return;
      }
      if (n < 3 || p[0] != 0 || p[1] != 2) return;
      const std::uint8_t* q = p + 2;
      const std::uint8_t* end = p + n;
      read_vu(q, end);                         // payload length
      if (read_vu(q, end) == 0) return;         // clients
      read_vu(q, end);                         // structs
      std::uint64_t client = read_vu(q, end);
      std::uint64_t clock = read_vu(q, end);
      double t = now_us();
      auto it = sent_at.find((client << 24) | clock);
      if (it == sent_at.end()) return;
      if (measuring) {
        ++delivered;
        lat.push_back(static_cast<float>(t - it->second));
      }
      auto owner = by_client.find(client);
      if (owner != by_client.end() && owner->second == &c) {
        --c.outstanding;
        pump(c);
      }
    };
    loop.run(on_msg, [&] { return greeted == clients; }, now_us() + 30e6);
    if (greeted != clients) {
      fprintf(stderr, "only %d of %d clients connected\n", greeted, clients);
      return 1;
    }
    for (auto& c : loop.conns()) pump(*c);
    loop.run(on_msg, [] { return false; }, now_us() + 2e6);  // warm-up
    measuring = true;
    double t0 = now_us();
    loop.run(on_msg, [] { return false; }, t0 + seconds * 1e6);
    double elapsed = (now_us() - t0) / 1e6;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) { return lat.empty() ? 0.0 : lat[static_cast<std::size_t>(q * (lat.size() - 1))] / 1000.0; };
    printf("deliveries_per_s %.0f\nupdates_per_s %.0f\np50_ms %.3f\np99_ms %.3f\n", delivered / elapsed,
           delivered / elapsed / clients, pct(0.5), pct(0.99));
    return 0;
  }

  if (mode == "rooms") {
    int count = std::stoi(arg(argc, argv, "--count", "1000"));
    int first = std::stoi(arg(argc, argv, "--first", "0"));
    int batch = 100;
    for (int start = 0; start < count; start += batch) {
      int n = std::min(batch, count - start);
      int done = 0;
      std::vector<Conn*> cs;
      for (int i = 0; i < n; ++i) {
        auto* c = loop.connect("room-" + std::to_string(first + start + i), start + i);
        c->doc = std::make_unique<blobsync::crdt::Doc>(static_cast<std::uint64_t>(5000 + start + i));
        cs.push_back(c);
      }
      auto on_msg = [&](Conn& c, const std::uint8_t* p, std::size_t len) {
        if (len >= 2 && p[0] == 0 && p[1] == 0 && !c.got_greeting) {
          c.got_greeting = true;
          loop.send(c, make_update(c));
        } else if (len >= 2 && p[0] == 0 && p[1] == 2 && c.got_greeting && !c.outstanding) {
          c.outstanding = 1;
          ++done;
        }
      };
      loop.run(on_msg, [&] { return done == n; }, now_us() + 60e6);
      for (auto* c : cs) loop.close(*c);
    }
    printf("rooms %d\n", count);
    return 0;
  }

  if (mode == "load") {
    int count = std::stoi(arg(argc, argv, "--count", "1000"));
    int first = std::stoi(arg(argc, argv, "--first", "0"));
    int updates = std::stoi(arg(argc, argv, "--updates", "32"));
    std::size_t bytes = std::stoul(arg(argc, argv, "--bytes", "2048"));
    int parallel = std::stoi(arg(argc, argv, "--parallel", "50"));
    int started = 0, loaded = 0;
    double t0 = now_us();
    auto start_one = [&] {
      int i = started++;
      auto* c = loop.connect("load-" + std::to_string(first + i), i);
      c->doc = std::make_unique<blobsync::crdt::Doc>(static_cast<std::uint64_t>(100000 + first + i));
    };
    auto chunk = [&](const Conn& c) {  // `bytes` spread over `updates`
      std::size_t n = static_cast<std::size_t>(c.sent);
      return bytes * (n + 1) / static_cast<std::size_t>(updates) - bytes * n / static_cast<std::size_t>(updates);
    };
    auto on_msg = [&](Conn& c, const std::uint8_t* p, std::size_t len) {
      if (len < 2) return;
      if (p[0] == 0 && p[1] == 0 && !c.got_greeting) {
        c.got_greeting = true;
        send_hello(loop, c, 100000 + static_cast<std::uint64_t>(first + c.index));
        loop.send(c, make_text_update(c, chunk(c)));
        ++c.sent;
        c.outstanding = 1;
      } else if (p[0] == 0 && p[1] == 2 && c.got_greeting && c.outstanding) {
        if (static_cast<int>(c.sent) < updates) {
          loop.send(c, make_text_update(c, chunk(c)));
          ++c.sent;
        } else {
          c.outstanding = 0;
          c.doc.reset();  // the generator keeps only the socket
          ++loaded;
          if (started < count) start_one();
        }
      }
    };
    for (int i = 0; i < std::min(parallel, count); ++i) start_one();
    loop.run(on_msg, [&] { return loaded == count; }, now_us() + 600e6);
    if (loaded != count) {
      fprintf(stderr, "only %d of %d rooms loaded\n", loaded, count);
      return 1;
    }
    printf("ready %d %.3f\n", loaded, (now_us() - t0) / 1e6);
    fflush(stdout);
    hold_until_stdin_closes(loop, on_msg);
    return 0;
  }

  if (mode == "idle") {
    int count = std::stoi(arg(argc, argv, "--count", "10000"));
    int rooms = std::stoi(arg(argc, argv, "--rooms", "100"));
    bool hello = arg(argc, argv, "--hello", "0") == std::string("1");
    int greeted = 0;
    auto on_msg = [&](Conn& c, const std::uint8_t* p, std::size_t len) {
      if (len >= 2 && p[0] == 0 && p[1] == 0 && !c.got_greeting) {
        c.got_greeting = true;
        ++greeted;
        if (!hello) return;
        send_hello(loop, c, 200000 + static_cast<std::uint64_t>(c.index));
      }
    };
    for (int start = 0; start < count; start += 500) {
      for (int i = start; i < std::min(count, start + 500); ++i) loop.connect("idle-" + std::to_string(i % rooms), i);
      loop.run(on_msg, [&] { return greeted == std::min(count, start + 500); }, now_us() + 60e6);
    }
    printf("ready %d\n", greeted);
    fflush(stdout);
    hold_until_stdin_closes(loop, on_msg);
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
