#include "http/request_target.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace blobsync::http {

bool parse_request_target(std::string_view target, Request& req) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return false;
  req.path = parsed->path();
  for (auto p : parsed->params()) req.query.emplace_back(p.key, p.has_value ? p.value : std::string());
  return true;
}

}  // namespace blobsync::http
