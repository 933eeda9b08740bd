#include "crdt/content.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "crdt/update_coder.h"
#include "crdt/work_meter.h"

namespace blobsync::crdt {

namespace {
bool all_narrow(std::u16string_view s) {
  return std::all_of(s.begin(), s.end(), [](char16_t u) { return u < 0x100; });
}
bool all_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}
}  // namespace

Content Content::string(std::u16string_view s) {
  Content c(ContentRef::kString);
  c.append_units(s);
  return c;
}

char16_t Content::unit(size_t i) const {
  if (!wide_) return static_cast<unsigned char>(str_[i]);
  char16_t u;
  std::memcpy(&u, str_.data() + 2 * i, 2);
  return u;
}

void Content::set_unit(size_t i, char16_t u) {
  if (!wide_ && u >= 0x100) widen();
  if (!wide_) {
    str_[i] = static_cast<char>(u);
  } else {
    std::memcpy(str_.data() + 2 * i, &u, 2);
  }
}

void Content::widen() {
  work_add(str_.size());
  std::string w(str_.size() * 2, '\0');
  for (size_t i = 0; i < str_.size(); ++i) {
    char16_t u = static_cast<unsigned char>(str_[i]);
    std::memcpy(w.data() + 2 * i, &u, 2);
  }
  str_ = std::move(w);
  wide_ = true;
}

void Content::append_units(std::u16string_view s) {
  if (!wide_ && !all_narrow(s)) widen();
  if (wide_) {
    str_.append(reinterpret_cast<const char*>(s.data()), s.size() * 2);
  } else {
    const size_t at = str_.size();
    str_.resize(at + s.size());
    for (size_t i = 0; i < s.size(); ++i) str_[at + i] = static_cast<char>(s[i]);
  }
}

void Content::append_str(std::u16string& out) const {
  if (ref_ != ContentRef::kString) return;
  const size_t from = n_, to = units();
  if (wide_) {
    const size_t at = out.size();
    out.resize(at + (to - from));
    std::memcpy(out.data() + at, str_.data() + 2 * from, 2 * (to - from));
  } else {
    out.reserve(out.size() + (to - from));
    for (size_t i = from; i < to; ++i) out.push_back(static_cast<unsigned char>(str_[i]));
  }
}

Content Content::clone() const {
  Content c(ref_);
  if (ref_ == ContentRef::kDeleted) c.n_ = n_;
  if (ref_ == ContentRef::kString) {
    c.wide_ = wide_;
    c.str_.assign(str_, n_ << (wide_ ? 1 : 0));
  }
  if (ext_) {
    c.ext_ = std::make_unique<ContentExt>(*ext_);
    c.ext_->branch = nullptr;
    c.ext_->values.erase(c.ext_->values.begin(), c.ext_->values.begin() + static_cast<ptrdiff_t>(skip()));
  }
  return c;
}

std::span<const Any> Content::values() const {
  if (!ext_) return {};
  return std::span<const Any>(ext_->values).subspan(skip());
}

uint64_t Content::length() const {
  switch (ref_) {
    case ContentRef::kDeleted: return n_;
    case ContentRef::kString: return units() - n_;
    case ContentRef::kJson:
    case ContentRef::kAny: return ext_ ? ext_->values.size() - n_ : 0;
    default: return 1;
  }
}

void Content::compact() {
  if (ref_ == ContentRef::kString) {
    work_add(units() - n_);
    str_.erase(0, n_ << (wide_ ? 1 : 0));
    str_.shrink_to_fit();
  } else {
    auto& v = ext_->values;
    work_add(v.size() - n_);
    v.erase(v.begin(), v.begin() + static_cast<ptrdiff_t>(n_));
    v.shrink_to_fit();
  }
  n_ = 0;
}

// A buffer holding more than twice its live part is compacted: the copy is
// paid for by the units split off since it was allocated.
template <class Buffer>
static bool wasteful(const Buffer& b, uint64_t live) {
  return b.capacity() > 2 * live + 16;
}

Content Content::splice(uint64_t offset) {
  switch (ref_) {
    case ContentRef::kDeleted: {
      Content r = deleted(n_ - offset);
      n_ = offset;
      return r;
    }
    case ContentRef::kString: {
      const uint64_t len = length();
      const int shift = wide_ ? 1 : 0;  // bytes per unit: 1 << shift
      Content r(ref_);
      r.wide_ = wide_;
      if (offset <= len - offset) {
        // Small head: copy it out; the right part keeps the buffer.
        work_add(offset);
        std::string head(str_, n_ << shift, offset << shift);
        r.str_ = std::move(str_);
        r.n_ = n_ + offset;
        str_ = std::move(head);
        n_ = 0;
        if (wasteful(r.str_, (len - offset) << shift)) r.compact();
      } else {
        work_add(len - offset);
        r.str_.assign(str_, (n_ + offset) << shift);
        str_.resize((n_ + offset) << shift);
        if (wasteful(str_, offset << shift)) compact();
      }
      // Only a wide string can hold a surrogate.
      if (wide_) {
        char16_t last = unit(units() - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          set_unit(units() - 1, 0xfffd);
          r.set_unit(r.n_, 0xfffd);
        }
      }
      return r;
    }
    case ContentRef::kJson:
    case ContentRef::kAny: {
      const uint64_t len = length();
      Content r(ref_);
      auto& v = ext_->values;
      auto first = v.begin() + static_cast<ptrdiff_t>(n_);
      if (offset <= len - offset) {
        work_add(offset);
        AnyArray head(std::make_move_iterator(first), std::make_move_iterator(first + static_cast<ptrdiff_t>(offset)));
        r.ext().values = std::move(v);
        r.n_ = n_ + offset;
        v = std::move(head);
        n_ = 0;
        if (wasteful(r.ext_->values, len - offset)) r.compact();
      } else {
        work_add(len - offset);
        r.ext().values.assign(std::make_move_iterator(first + static_cast<ptrdiff_t>(offset)), std::make_move_iterator(v.end()));
        v.resize(n_ + offset);
        if (wasteful(v, offset)) compact();
      }
      return r;
    }
    default: return Content(ref_);  // unreachable for length-1 kinds
  }
}

bool Content::merge_with(Content& right) {
  if (ref_ != right.ref_) return false;
  switch (ref_) {
    case ContentRef::kDeleted: n_ += right.n_; return true;
    case ContentRef::kString:
      if (!wide_ && !right.wide_) {
        str_.append(right.str_, right.n_);
      } else if (right.wide_) {
        if (!wide_) widen();
        str_.append(right.str_, right.n_ * 2);
      } else {
        append_units(right.str());
      }
      return true;
    case ContentRef::kJson:
    case ContentRef::kAny: {
      auto& v = ext().values;
      auto& rv = right.ext().values;
      for (size_t i = right.n_; i < rv.size(); ++i) v.push_back(std::move(rv[i]));
      return true;
    }
    default: return false;
  }
}

void Content::write(UpdateEncoder& enc, uint64_t offset) const {
  switch (ref_) {
    case ContentRef::kDeleted: enc.write_len(n_ - offset); break;
    case ContentRef::kString: {
      const size_t from = n_ + offset, n = units() - from;
      if (!wide_ && enc.strings_are_utf8() && all_ascii(std::string_view(str_).substr(from))) {
        // ASCII is its own UTF-8: v1 writes the bytes as they are.
        enc.write_string8(std::string_view(str_).substr(from));
        break;
      }
      std::array<char16_t, 256> buf;  // most strings an update carries are short
      std::u16string big;
      char16_t* out = buf.data();
      if (n > buf.size()) {
        big.resize(n);
        out = big.data();
      }
      if (wide_) {
        std::memcpy(out, str_.data() + 2 * from, 2 * n);  // alignment of str_ is not assumed
      } else {
        for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(str_[from + i]);
      }
      enc.write_string16(std::u16string_view(out, n));
      break;
    }
    case ContentRef::kJson: {
      auto v = values();
      enc.write_len(v.size() - offset);
      for (size_t i = offset; i < v.size(); ++i) {
        std::string s;
        if (!append_json(s, v[i])) s = "undefined";
        enc.write_string8(s);
      }
      break;
    }
    case ContentRef::kAny: {
      auto v = values();
      enc.write_len(v.size() - offset);
      for (size_t i = offset; i < v.size(); ++i) enc.write_any(v[i]);
      break;
    }
    case ContentRef::kBinary: enc.write_buf(ext_->bytes); break;
    case ContentRef::kEmbed: enc.write_json(ext_->value); break;
    case ContentRef::kFormat:
      enc.write_key(ext_->key);
      enc.write_json(ext_->value);
      break;
    case ContentRef::kType:
      enc.write_type_ref(static_cast<uint8_t>(ext_->type_ref));
      if (ext_->type_ref == TypeRef::kXmlElement || ext_->type_ref == TypeRef::kXmlHook) enc.write_key(ext_->key);
      break;
    case ContentRef::kDoc:
      enc.write_string8(ext_->key);
      enc.write_any(ext_->value);
      break;
  }
}

Content Content::read(UpdateDecoder& dec, uint8_t ref) {
  switch (ref) {
    case 1: return deleted(dec.read_len());
    case 2: {
      uint64_t n = dec.read_len();
      if (n > dec.rest().remaining() + 1) {  // v1: every entry takes >= 1 byte
        if (dec.strings_are_utf8()) {
          dec.fail("JSON content count exceeds data");
          return {};
        }
      }
      AnyArray vals;
      for (uint64_t i = 0; i < n && dec.ok(); ++i) {
        std::string s = dec.read_string8();
        if (!dec.ok()) break;
        if (s == "undefined") {
          vals.emplace_back(Undefined{});
        } else {
          auto v = parse_json(s);
          if (!v) {
            dec.fail(v.error().message);
            break;
          }
          vals.push_back(std::move(*v));
        }
      }
      return json(std::move(vals));
    }
    case 3: return binary(dec.read_buf());
    case 4: {
      if (dec.strings_are_utf8()) {
        // v1 strings are UTF-8 (validated by the decoder): ASCII is already
        // one byte per UTF-16 unit, so it is kept without converting.
        std::string utf8 = dec.read_string8();
        if (!all_ascii(utf8)) return string(utf8_to_utf16(utf8));
        Content c(ContentRef::kString);
        c.str_ = std::move(utf8);
        return c;
      }
      return string(dec.read_string16());
    }
    case 5: return embed(dec.read_json());
    case 6: {
      std::string k = dec.read_key();
      return format(std::move(k), dec.read_json());
    }
    case 7: {
      uint8_t tr = dec.read_type_ref();
      if (tr > 6) {
        dec.fail("unknown type ref");
        return {};
      }
      std::string name;
      if (tr == 3 || tr == 5) name = dec.read_key();
      return type(static_cast<TypeRef>(tr), std::move(name));
    }
    case 8: {
      uint64_t n = dec.read_len();
      if (n > dec.rest().remaining()) {  // every any takes >= 1 byte of rest
        dec.fail("any content count exceeds data");
        return {};
      }
      AnyArray vals;
      vals.reserve(n);
      for (uint64_t i = 0; i < n && dec.ok(); ++i) vals.push_back(dec.read_any());
      return any(std::move(vals));
    }
    case 9: {
      std::string guid = dec.read_string8();
      return doc(std::move(guid), dec.read_any());
    }
    default: dec.fail("unknown content ref"); return {};
  }
}

}  // namespace blobsync::crdt
