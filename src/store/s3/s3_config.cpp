#include "store/s3/s3_config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <vector>

namespace blobsync::s3 {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return fail(Errc::kInvalidArgument, "S3 URL: truncated %-escape in {}", what);
    }
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return fail(Errc::kInvalidArgument, "S3 URL: bad %-escape in {}", what);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<std::int64_t> parse_int(std::string_view name, std::string_view v, std::int64_t lo, std::int64_t hi) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
    return fail(Errc::kInvalidArgument, "S3 URL: {}={} is not an integer in [{}, {}]", name, v, lo, hi);
  }
  return n;
}

// "8388608", "8MiB", "8M", "512k", "5GiB": binary units.
Result<std::uint64_t> parse_size(std::string_view name, std::string_view v) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p == v.data()) return fail(Errc::kInvalidArgument, "S3 URL: {}={} is not a size", name, v);
  std::string unit(p, v.data() + v.size());
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib" || unit == "kb") shift = 10;
  else if (unit == "m" || unit == "mib" || unit == "mb") shift = 20;
  else if (unit == "g" || unit == "gib" || unit == "gb") shift = 30;
  else return fail(Errc::kInvalidArgument, "S3 URL: {}={} has an unknown unit", name, v);
  if (n > (UINT64_MAX >> shift)) return fail(Errc::kInvalidArgument, "S3 URL: {}={} is too large", name, v);
  return n << shift;
}

Result<bool> parse_bool(std::string_view name, std::string_view v) {
  if (v == "1" || v == "true" || v == "yes") return true;
  if (v == "0" || v == "false" || v == "no") return false;
  return fail(Errc::kInvalidArgument, "S3 URL: {}={} is not a boolean (1/0/true/false)", name, v);
}

bool valid_bucket(std::string_view b) {
  if (b.empty() || b.size() > 255) return false;
  for (char c : b) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

// Prefixes end up in URLs unescaped by libcurl's signer, so keep them plain.
bool valid_prefix(std::string_view p) {
  for (char c : p) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' && c != '/') return false;
  }
  return p.find("//") == std::string_view::npos && (p.empty() || p.front() != '/');
}

}  // namespace

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string S3Config::describe() const {
  return fmt::format("s3://{}/{} at {} (region {}, {} style)", bucket, prefix, endpoint, region,
                     path_style ? "path" : "virtual-hosted");
}

Result<> finish_config(S3Config& c, const GetEnv& getenv) {
  if (!valid_bucket(c.bucket)) return fail(Errc::kInvalidArgument, "S3: bad bucket name '{}'", c.bucket);
  if (!c.prefix.empty() && c.prefix.back() != '/') c.prefix.push_back('/');
  if (!valid_prefix(c.prefix)) {
    return fail(Errc::kInvalidArgument, "S3: prefix '{}' may only use A-Z a-z 0-9 . - _ /", c.prefix);
  }
  if (c.access_key.empty() && c.secret_key.empty()) {
    c.access_key = getenv("AWS_ACCESS_KEY_ID").value_or("");
    c.secret_key = getenv("AWS_SECRET_ACCESS_KEY").value_or("");
    if (c.session_token.empty()) c.session_token = getenv("AWS_SESSION_TOKEN").value_or("");
  }
  if (c.access_key.empty() || c.secret_key.empty()) {
    return fail(Errc::kInvalidArgument,
                "S3: no credentials (put KEY:SECRET@ in the URL or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  if (c.access_key.find(':') != std::string::npos) {
    return fail(Errc::kInvalidArgument, "S3: access key must not contain ':'");
  }
  if (c.region.empty()) return fail(Errc::kInvalidArgument, "S3: empty region");
  if (c.endpoint.empty()) c.endpoint = "https://s3." + c.region + ".amazonaws.com";
  if (!c.endpoint.starts_with("http://") && !c.endpoint.starts_with("https://")) {
    return fail(Errc::kInvalidArgument, "S3: endpoint '{}' must start with http:// or https://", c.endpoint);
  }
  while (c.endpoint.ends_with('/')) c.endpoint.pop_back();
  if (c.endpoint.find('/', c.endpoint.find("//") + 2) != std::string::npos) {
    return fail(Errc::kInvalidArgument, "S3: endpoint '{}' must not have a path", c.endpoint);
  }
  if (c.part_size < 1024 || c.part_size > (5ull << 30)) {
    return fail(Errc::kInvalidArgument, "S3: part_size {} outside [1 KiB, 5 GiB]", c.part_size);
  }
  if (c.single_put_max > (5ull << 30)) {
    return fail(Errc::kInvalidArgument, "S3: single_put_max {} above 5 GiB (S3's PutObject limit)",
                c.single_put_max);
  }
  if (c.max_copy_size < 1024 || c.max_copy_size > (5ull << 30)) {
    return fail(Errc::kInvalidArgument, "S3: max_copy_size {} outside [1 KiB, 5 GiB]", c.max_copy_size);
  }
  if (c.max_attempts < 1 || c.stall_timeout_s < 1 || c.connect_timeout_ms < 1 || c.request_timeout_ms < 1 ||
      c.backoff_base_ms < 0 || c.list_page_size < 1 || c.list_page_size > 1000 || c.backoff_max_ms < c.backoff_base_ms || c.tmp_grace_s < 0 ||
      c.upload_parallelism < 1) {
    return fail(Errc::kInvalidArgument, "S3: timeouts, attempts and backoff must be positive");
  }
  return {};
}

Result<S3Config> parse_s3_url(std::string_view url, const GetEnv& getenv) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) return fail(Errc::kInvalidArgument, "S3 URL must start with s3:// (got '{}')", url);
  std::string_view rest = url.substr(kScheme.size());
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (auto s = rest.find('/'); s != std::string_view::npos) {
    path = rest.substr(s + 1);
    rest = rest.substr(0, s);
  }
  S3Config c;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return fail(Errc::kInvalidArgument, "S3 URL: credentials must be ACCESS_KEY:SECRET_KEY@");
    }
    auto ak = percent_decode(userinfo.substr(0, colon), "the access key");
    if (!ak) return std::unexpected(ak.error());
    auto sk = percent_decode(userinfo.substr(colon + 1), "the secret key");
    if (!sk) return std::unexpected(sk.error());
    c.access_key = std::move(*ak);
    c.secret_key = std::move(*sk);
  }
  c.bucket = std::string(rest);
  auto prefix = percent_decode(path, "the prefix");
  if (!prefix) return std::unexpected(prefix.error());
  c.prefix = std::move(*prefix);
  c.region = getenv("AWS_REGION").value_or(getenv("AWS_DEFAULT_REGION").value_or("us-east-1"));

  std::optional<bool> path_style;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string name(item.substr(0, eq));
    auto decoded = percent_decode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1), name);
    if (!decoded) return std::unexpected(decoded.error());
    const std::string& v = *decoded;
    auto set_int = [&](auto& field, std::int64_t lo, std::int64_t hi) -> Result<> {
      auto n = parse_int(name, v, lo, hi);
      if (!n) return std::unexpected(n.error());
      field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
      return {};
    };
    Result<> ok;
    if (name == "endpoint") c.endpoint = v;
    else if (name == "region") c.region = v;
    else if (name == "prefix") c.prefix = v;
    else if (name == "path_style") {
      auto b = parse_bool(name, v);
      if (!b) return std::unexpected(b.error());
      path_style = *b;
    } else if (name == "part_size" || name == "max_copy_size" || name == "single_put_max") {
      auto n = parse_size(name, v);
      if (!n) return std::unexpected(n.error());
      (name == "part_size" ? c.part_size : name == "max_copy_size" ? c.max_copy_size : c.single_put_max) = *n;
    } else if (name == "connect_timeout_ms") ok = set_int(c.connect_timeout_ms, 1, 3600000);
    else if (name == "request_timeout_ms") ok = set_int(c.request_timeout_ms, 1, 86400000);
    else if (name == "stall_timeout_s") ok = set_int(c.stall_timeout_s, 1, 86400);
    else if (name == "max_attempts") ok = set_int(c.max_attempts, 1, 100);
    else if (name == "backoff_base_ms") ok = set_int(c.backoff_base_ms, 0, 600000);
    else if (name == "backoff_max_ms") ok = set_int(c.backoff_max_ms, 0, 3600000);
    else if (name == "list_page_size") ok = set_int(c.list_page_size, 1, 1000);
    else if (name == "upload_parallelism") ok = set_int(c.upload_parallelism, 1, 64);
    else if (name == "tmp_grace_s") ok = set_int(c.tmp_grace_s, 0, std::int64_t{1} << 40);
    else return fail(Errc::kInvalidArgument, "S3 URL: unknown parameter '{}'", name);
    if (!ok) return std::unexpected(ok.error());
  }
  c.path_style = path_style.value_or(!c.endpoint.empty());
  if (auto r = finish_config(c, getenv); !r) return std::unexpected(r.error());
  return c;
}

}  // namespace blobsync::s3
