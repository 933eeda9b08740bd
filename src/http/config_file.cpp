// The file and environment layers of the server's configuration
// (config.h): a TOML file read into raw values, and BLOBSYNC_<KEY> variables.
// Kept apart from config.cpp so toml++ (slow to compile) is in one small file.
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "http/config.h"

namespace blobsync::http {

namespace {

bool known_key(std::string_view k) {
  const auto& keys = config_keys();
  return std::any_of(keys.begin(), keys.end(), [&](const ConfigKeyInfo& i) { return i.key == k; });
}

}  // namespace

Result<ConfigValues> read_toml_config(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return fail(Errc::kNotFound, "config file {} does not exist", file.string());
  toml::table parsed;
  try {
    parsed = toml::parse_file(file.string());
  } catch (const toml::parse_error& err) {
    return fail(Errc::kInvalidArgument, "{}:{}:{}: {}", file.string(), err.source().begin.line,
                err.source().begin.column, err.description());
  }
  ConfigValues out;
  for (const auto& [k, node] : parsed) {
    std::string key(k.str());
    if (!known_key(key)) return fail(Errc::kInvalidArgument, "{}: unknown key '{}'", file.string(), key);
    std::string value;
    if (auto s = node.value<std::string>(); s && node.is_string()) value = *s;
    else if (node.is_integer()) value = std::to_string(*node.value<std::int64_t>());
    else if (node.is_boolean()) value = *node.value<bool>() ? "true" : "false";
    else if (node.is_floating_point()) value = std::to_string(static_cast<std::int64_t>(*node.value<double>()));
    else if (const auto* arr = node.as_array()) {
      for (const auto& item : *arr) {
        auto s2 = item.value<std::string>();
        if (!s2 || !item.is_string())
          return fail(Errc::kInvalidArgument, "{}: '{}' must be an array of strings", file.string(), key);
        if (!value.empty()) value += ',';
        value += *s2;
      }
    } else {
      return fail(Errc::kInvalidArgument, "{}: '{}' has an unsupported type", file.string(), key);
    }
    out[key] = value;
  }
  return out;
}

ConfigValues read_env_config() {
  ConfigValues out;
  for (const auto& info : config_keys()) {
    std::string env = "BLOBSYNC_";
    for (char c : info.key) env.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (const char* v = std::getenv(env.c_str()); v != nullptr) out[info.key] = v;
  }
  return out;
}

}  // namespace blobsync::http
