#include "test_servers.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/s3/s3_client.h"

namespace blobsync::s3::testing {

namespace {

bool on_path(const char* program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string p(path);
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::filesystem::path candidate = std::filesystem::path(p.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

size_t append_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

const char* kind_name(ServerKind kind) {
  switch (kind) {
    case ServerKind::kFake: return "fake_s3";
    case ServerKind::kS3rver: return "s3rver";
    case ServerKind::kMoto: return "moto";
  }
  return "?";
}

bool moto_available() { return on_path("moto_server"); }

Result<std::unique_ptr<TestServer>> TestServer::start(ServerKind kind) {
  std::string templ = (std::filesystem::temp_directory_path() / "blobsync-s3-XXXXXX").string();
  if (!::mkdtemp(templ.data())) return fail(Errc::kIOError, "mkdtemp failed");
  auto server = std::unique_ptr<TestServer>(new TestServer(kind, templ));
  if (auto r = server->launch(); !r) return std::unexpected(r.error());
  if (kind == ServerKind::kMoto) {
    S3Client client(server->config());
    auto r = client.execute(S3Request("PUT"));
    if (!r || !r->ok()) return fail(Errc::kIOError, "moto: could not create the bucket");
  }
  return server;
}

TestServer::~TestServer() {
  kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

S3Config TestServer::config() const {
  S3Config c;
  c.bucket = kBucket;
  c.endpoint = endpoint();
  c.path_style = true;
  c.region = "us-east-1";
  if (kind_ == ServerKind::kS3rver) {
    c.access_key = c.secret_key = "S3RVER";  // s3rver only knows this account
  } else {
    c.access_key = "AKIAIOSFODNN7EXAMPLE";
    c.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  }
  c.part_size = 64 * 1024;
  c.connect_timeout_ms = 2000;
  c.request_timeout_ms = 20000;
  c.stall_timeout_s = 5;
  c.max_attempts = 3;
  c.backoff_base_ms = 10;
  c.backoff_max_ms = 100;
  c.tmp_grace_s = 0;
  return c;
}

Result<> TestServer::launch() {
  std::vector<std::string> args;
  const std::string here = BLOBSYNC_S3_TEST_DIR;
  bool prints_port = true;
  if (kind_ == ServerKind::kFake) {
    args = {"python3", here + "/fake_s3.py", "--dir", dir_, "--bucket", kBucket};
  } else if (kind_ == ServerKind::kS3rver) {
    // s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node 20's
    // OpenSSL 3 only offers through the legacy provider (else every truncated listing is a 500).
    args = {"node", "--openssl-legacy-provider", here + "/s3rver_main.mjs", dir_, kBucket};
  } else {
    port_ = free_port();
    args = {"moto_server", "-H", "127.0.0.1", "-p", std::to_string(port_)};
    prints_port = false;
  }
  int out[2];
  if (::pipe(out) != 0) return fail(Errc::kIOError, "pipe failed");
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return fail(Errc::kIOError, "fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(out[1], 1);
    if (!prints_port) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    ::close(out[0]);
    ::close(out[1]);
    if (kind_ == ServerKind::kMoto) ::setenv("S3_UPLOAD_PART_MIN_SIZE", "1024", 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  ::close(out[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  if (prints_port) {
    std::string line;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    if (!line.starts_with("PORT ")) {
      kill();
      return fail(Errc::kIOError, "{} did not start (output '{}')", kind_name(kind_), line);
    }
    port_ = std::atoi(line.c_str() + 5);
    return {};
  }
  ::close(out[0]);
  while (std::chrono::steady_clock::now() < deadline) {
    if (can_connect(port_)) return {};
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return fail(Errc::kIOError, "{} exited at start", kind_name(kind_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill();
  return fail(Errc::kIOError, "{} did not accept connections", kind_name(kind_));
}

void TestServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Result<> TestServer::restart() {
  kill();
  return launch();
}

std::string http_request(const std::string& method, const std::string& url) {
  CURL* easy = curl_easy_init();
  std::string body;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 10L);
  curl_easy_perform(easy);
  curl_easy_cleanup(easy);
  return body;
}

void TestServer::fault(const std::string& query) { http_request("POST", endpoint() + "/__fault?" + query); }
void TestServer::reset_faults() { http_request("POST", endpoint() + "/__reset"); }
std::string TestServer::stats() { return http_request("GET", endpoint() + "/__stats"); }

}  // namespace blobsync::s3::testing
