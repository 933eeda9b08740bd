#include "crdt/update_v2.h"

namespace blobsync::crdt {

void RleU8Encoder::write(uint8_t v) {
  if (s_ == v) {
    ++count_;
    return;
  }
  if (count_ > 0) enc_.write_var_uint(count_ - 1);
  count_ = 1;
  enc_.write_u8(v);
  s_ = v;
}

void UintOptRleEncoder::flush() {
  if (count_ == 0) return;
  // A negative value (or -0) announces that a run length follows.
  if (count_ == 1) {
    enc_.write_var_int(static_cast<int64_t>(s_));
  } else {
    enc_.write_var_int(-static_cast<int64_t>(s_), s_ == 0);
    enc_.write_var_uint(count_ - 2);
  }
}
void UintOptRleEncoder::write(uint64_t v) {
  if (s_ == v && count_ > 0) {
    ++count_;
    return;
  }
  if (s_ == v && count_ == 0) {  // lib0 starts with s=0, count=0
    count_ = 1;
    return;
  }
  flush();
  count_ = 1;
  s_ = v;
}
Bytes UintOptRleEncoder::finish() {
  flush();
  count_ = 0;
  return enc_.take();
}

void IntDiffOptRleEncoder::flush() {
  if (count_ == 0) return;
  int64_t encoded = diff_ * 2 + (count_ == 1 ? 0 : 1);
  enc_.write_var_int(encoded);
  if (count_ > 1) enc_.write_var_uint(count_ - 2);
}
void IntDiffOptRleEncoder::write(uint64_t uv) {
  auto v = static_cast<int64_t>(uv);
  if (s_ + diff_ == v && count_ > 0) {
    s_ = v;
    ++count_;
    return;
  }
  if (count_ == 0 && s_ + diff_ == v) {  // first value equal to the initial s+diff (0)
    s_ = v;
    count_ = 1;
    return;
  }
  flush();
  count_ = 1;
  diff_ = v - s_;
  s_ = v;
}
Bytes IntDiffOptRleEncoder::finish() {
  flush();
  count_ = 0;
  return enc_.take();
}

void StringEncoderV2::write(std::u16string_view s) {
  s_.append(s);
  lens_.write(s.size());
}
Bytes StringEncoderV2::finish() {
  Encoder e;
  e.write_var_string16(s_);
  Bytes lens = lens_.finish();
  e.write_bytes(lens);
  return e.take();
}

Bytes UpdateEncoderV2::finish() {
  Encoder e;
  e.write_var_uint(0);  // feature flag
  e.write_var_bytes(key_clock_.finish());
  e.write_var_bytes(client_.finish());
  e.write_var_bytes(left_clock_.finish());
  e.write_var_bytes(right_clock_.finish());
  e.write_var_bytes(info_.finish());
  e.write_var_bytes(strings_.finish());
  e.write_var_bytes(parent_info_.finish());
  e.write_var_bytes(type_ref_.finish());
  e.write_var_bytes(len_.finish());
  e.write_bytes(rest_.bytes());
  return e.take();
}

uint8_t RleU8Decoder::read(Decoder& err) {
  if (count_ == 0) {
    if (!dec_.has_more()) {
      err.fail("v2 column exhausted");
      return 0;
    }
    s_ = dec_.read_u8();
    if (dec_.has_more()) {
      count_ = static_cast<int64_t>(dec_.read_var_uint()) + 1;
      if (!dec_.ok()) err.fail(dec_.error());
    } else {
      count_ = -1;
    }
  }
  if (count_ > 0) --count_;
  return s_;
}

uint64_t UintOptRleDecoder::read(Decoder& err) {
  if (count_ == 0) {
    if (!dec_.has_more()) {
      err.fail("v2 column exhausted");
      return 0;
    }
    bool nz = false;
    int64_t v = dec_.read_var_int(&nz);
    count_ = 1;
    if (v < 0 || nz) {
      v = -v;
      count_ = dec_.read_var_uint() + 2;
    }
    if (!dec_.ok()) {
      err.fail(dec_.error());
      return 0;
    }
    s_ = static_cast<uint64_t>(v);
  }
  --count_;
  return s_;
}

uint64_t IntDiffOptRleDecoder::read(Decoder& err) {
  if (count_ == 0) {
    if (!dec_.has_more()) {
      err.fail("v2 column exhausted");
      return 0;
    }
    int64_t d = dec_.read_var_int();
    bool has_count = (d & 1) != 0;
    diff_ = d >> 1;  // floor division like Math.floor(d / 2)
    count_ = 1;
    if (has_count) count_ = dec_.read_var_uint() + 2;
    if (!dec_.ok()) {
      err.fail(dec_.error());
      return 0;
    }
  }
  s_ += diff_;
  --count_;
  if (s_ < 0 || static_cast<uint64_t>(s_) > kMaxSafeInteger) {
    err.fail("v2 value out of range");
    return 0;
  }
  return static_cast<uint64_t>(s_);
}

ByteView UpdateDecoderV2::column(Decoder& d) {
  uint64_t n = d.read_var_uint();
  return d.read_view(n);
}

// Member initialisers run in declaration order, which is the column order.
UpdateDecoderV2::UpdateDecoderV2(ByteView data)
    : UpdateDecoder(data),
      key_clock_((rest_.read_var_uint(), column(rest_))),
      client_(column(rest_)),
      left_clock_(column(rest_)),
      right_clock_(column(rest_)),
      info_(column(rest_)),
      str_lens_({}),
      parent_info_({}),
      type_ref_({}),
      len_({}) {
  ByteView strcol = column(rest_);
  Decoder sd(strcol);
  std::string s = sd.read_var_string();
  if (!sd.ok()) rest_.fail("v2 string column: " + sd.error());
  str_ = utf8_to_utf16(s);
  str_lens_ = UintOptRleDecoder(ByteView(strcol.data() + (strcol.size() - sd.remaining()), sd.remaining()));
  parent_info_ = RleU8Decoder(column(rest_));
  type_ref_ = UintOptRleDecoder(column(rest_));
  len_ = UintOptRleDecoder(column(rest_));
}

std::u16string UpdateDecoderV2::read_string16() {
  uint64_t n = str_lens_.read(rest_);
  if (n > str_.size() - spos_) {
    rest_.fail("v2 string out of range");
    return {};
  }
  std::u16string r = str_.substr(spos_, n);
  spos_ += n;
  return r;
}

std::string UpdateDecoderV2::read_key() {
  uint64_t clock = key_clock_.read(rest_);
  if (clock < keys_.size()) return keys_[clock];
  std::string k = read_string8();
  keys_.push_back(k);
  return k;
}

}  // namespace blobsync::crdt
