#include "store/s3/s3_xml.h"

#include <charconv>
#include <cstdint>

namespace blobsync::s3 {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    std::size_t name_begin = pos + 1;
    if (xml.compare(name_begin, tag.size(), tag) != 0 || name_begin + tag.size() >= xml.size()) {
      ++pos;
      continue;
    }
    char after = xml[name_begin + tag.size()];
    if (after != '>' && after != ' ' && after != '/' && after != '\t' && after != '\n' && after != '\r') {
      ++pos;  // <KeyCount> is not <Key>
      continue;
    }
    std::size_t open_end = xml.find('>', name_begin);
    if (open_end == std::string_view::npos) break;
    if (xml[open_end - 1] == '/') {
      out.emplace_back();
      pos = open_end + 1;
      continue;
    }
    std::string close = "</" + std::string(tag) + ">";
    std::size_t close_pos = xml.find(close, open_end + 1);
    if (close_pos == std::string_view::npos) break;
    out.push_back(xml.substr(open_end + 1, close_pos - open_end - 1));
    pos = close_pos + close.size();
  }
  return out;
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  auto all = xml_elements(xml, tag);
  if (all.empty()) return std::nullopt;
  return xml_unescape(all.front());
}

std::string xml_unescape(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '&') {
      out.push_back(t[i]);
      continue;
    }
    std::size_t semi = t.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = t.substr(i + 1, semi - i - 1);
    if (ent == "amp") out.push_back('&');
    else if (ent == "lt") out.push_back('<');
    else if (ent == "gt") out.push_back('>');
    else if (ent == "quot") out.push_back('"');
    else if (ent == "apos") out.push_back('\'');
    else if (ent.size() > 1 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      std::uint32_t cp = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || cp > 0x10FFFF) {
        out.push_back('&');
        continue;
      }
      append_utf8(out, cp);
    } else {
      out.push_back('&');
      continue;
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace blobsync::s3
