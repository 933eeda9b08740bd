#include "http/json_util.h"

#include <charconv>

namespace blobsync::http {

XResult<boost::json::object> parse_json_body(const Request& req) {
  auto ct = req.header("content-type");
  if (!ct) return xfail(400, "InvalidRequest", "Request encoding (Content-Type) required but not provided");
  std::string_view type = *ct;
  if (auto semi = type.find(';'); semi != std::string_view::npos) type = type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (type != "application/json")
    return xfail(400, "InvalidRequest", fmt::format("Wrong request encoding (Content-Type): {}", type));
  if (req.body.empty()) return xfail(400, "InvalidRequest", "A request body is expected but none was provided");
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 64;
  auto v = boost::json::parse(req.body, ec, {}, opts);
  if (ec) return xfail(400, "InvalidRequest", fmt::format("Invalid JSON body: {}", ec.message()));
  if (!v.is_object()) return xfail(400, "InvalidRequest", "The JSON body must be an object");
  return std::move(v.as_object());
}

XResult<std::string> get_string(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return xfail(400, "InvalidRequest", fmt::format("Input must have the property \"{}\"", key));
  if (!v->is_string()) return xfail(400, "InvalidRequest", fmt::format("Input/{} must be a string", key));
  return std::string(v->as_string());
}

XResult<std::optional<std::string>> get_opt_string(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return xfail(400, "InvalidRequest", fmt::format("Input/{} must be a string", key));
  return std::optional<std::string>(std::string(v->as_string()));
}

XResult<std::size_t> get_limit(const Request& req, std::size_t def, std::size_t max) {
  auto p = req.param("limit");
  if (!p) return def;
  std::size_t v = 0;
  auto [ptr, ec] = std::from_chars(p->data(), p->data() + p->size(), v);
  if (ec != std::errc() || ptr != p->data() + p->size() || v < 1 || v > max)
    return xfail(400, "InvalidRequest", fmt::format("limit must be an integer from 1 to {}", max));
  return v;
}

XResult<std::string> get_param(const Request& req, std::string_view name) {
  auto p = req.param(name);
  if (!p || p->empty()) return xfail(400, "InvalidRequest", fmt::format("Params must have the property \"{}\"", name));
  return std::string(*p);
}

Response json_ok(const boost::json::value& v) { return json_response(boost::json::serialize(v)); }

}  // namespace blobsync::http
