// UpdateEncoder / UpdateDecoder: the field-level interface shared by update
// format v1 (everything inline, plain varUints) and v2 (columnar, RLE). Struct
// and delete-set writers talk to this interface only, so one code path
// produces both formats.
//
// Thread safety: instances are single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crdt/any.h"
#include "crdt/id.h"
#include "crdt/lib0.h"

namespace blobsync::crdt {

class UpdateEncoder {
 public:
  virtual ~UpdateEncoder() = default;
  Encoder& rest() { return rest_; }

  virtual void reset_ds_cur_val() = 0;
  virtual void write_ds_clock(uint64_t clock) = 0;
  virtual void write_ds_len(uint64_t len) = 0;
  virtual void write_client(uint64_t client) = 0;
  virtual void write_info(uint8_t info) = 0;
  virtual void write_left_id(ID id) = 0;
  virtual void write_right_id(ID id) = 0;
  virtual void write_parent_info(bool is_ykey) = 0;
  virtual void write_string8(std::string_view s) = 0;
  virtual void write_string16(std::u16string_view s) = 0;
  // Whether strings go on the wire as UTF-8 (v1): then an ASCII string's
  // bytes are its encoding (write_string8), with no UTF-16 conversion.
  virtual bool strings_are_utf8() const { return false; }
  virtual void write_type_ref(uint8_t ref) = 0;
  virtual void write_len(uint64_t len) = 0;
  virtual void write_any(const Any& a) = 0;
  virtual void write_buf(ByteView b) = 0;
  virtual void write_json(const Any& a) = 0;
  virtual void write_key(std::string_view key) = 0;
  virtual Bytes finish() = 0;

 protected:
  Encoder rest_;
};

class UpdateDecoder {
 public:
  explicit UpdateDecoder(ByteView data) : rest_(data) {}
  virtual ~UpdateDecoder() = default;
  Decoder& rest() { return rest_; }
  bool ok() const { return rest_.ok(); }
  const std::string& error() const { return rest_.error(); }
  void fail(std::string msg) { rest_.fail(std::move(msg)); }

  virtual void reset_ds_cur_val() = 0;
  virtual uint64_t read_ds_clock() = 0;
  virtual uint64_t read_ds_len() = 0;
  virtual uint64_t read_client() = 0;
  virtual uint8_t read_info() = 0;
  virtual ID read_left_id() = 0;
  virtual ID read_right_id() = 0;
  virtual bool read_parent_info() = 0;
  virtual std::string read_string8() = 0;
  virtual std::u16string read_string16() = 0;
  // As UpdateEncoder::strings_are_utf8: read_string8 is the wire's bytes.
  virtual bool strings_are_utf8() const { return false; }
  virtual uint8_t read_type_ref() = 0;
  virtual uint64_t read_len() = 0;
  virtual Any read_any() = 0;
  virtual Bytes read_buf() = 0;
  virtual Any read_json() = 0;
  virtual std::string read_key() = 0;

 protected:
  Decoder rest_;
};

class UpdateEncoderV1 final : public UpdateEncoder {
 public:
  void reset_ds_cur_val() override {}
  void write_ds_clock(uint64_t clock) override { rest_.write_var_uint(clock); }
  void write_ds_len(uint64_t len) override { rest_.write_var_uint(len); }
  void write_client(uint64_t client) override { rest_.write_var_uint(client); }
  void write_info(uint8_t info) override { rest_.write_u8(info); }
  void write_left_id(ID id) override {
    rest_.write_var_uint(id.client);
    rest_.write_var_uint(id.clock);
  }
  void write_right_id(ID id) override { write_left_id(id); }
  void write_parent_info(bool is_ykey) override { rest_.write_var_uint(is_ykey ? 1 : 0); }
  void write_string8(std::string_view s) override { rest_.write_var_string(s); }
  void write_string16(std::u16string_view s) override { rest_.write_var_string16(s); }
  bool strings_are_utf8() const override { return true; }
  void write_type_ref(uint8_t ref) override { rest_.write_var_uint(ref); }
  void write_len(uint64_t len) override { rest_.write_var_uint(len); }
  void write_any(const Any& a) override { crdt::write_any(rest_, a); }
  void write_buf(ByteView b) override { rest_.write_var_bytes(b); }
  void write_json(const Any& a) override;
  void write_key(std::string_view key) override { rest_.write_var_string(key); }
  Bytes finish() override { return rest_.take(); }
};

class UpdateDecoderV1 final : public UpdateDecoder {
 public:
  using UpdateDecoder::UpdateDecoder;
  void reset_ds_cur_val() override {}
  uint64_t read_ds_clock() override { return rest_.read_var_uint(); }
  uint64_t read_ds_len() override { return rest_.read_var_uint(); }
  uint64_t read_client() override { return rest_.read_var_uint(); }
  uint8_t read_info() override { return rest_.read_u8(); }
  ID read_left_id() override {
    uint64_t c = rest_.read_var_uint();
    return ID{c, rest_.read_var_uint()};
  }
  ID read_right_id() override { return read_left_id(); }
  bool read_parent_info() override { return rest_.read_var_uint() == 1; }
  std::string read_string8() override { return rest_.read_var_string(); }
  std::u16string read_string16() override { return rest_.read_var_string16(); }
  bool strings_are_utf8() const override { return true; }
  uint8_t read_type_ref() override {
    uint64_t r = rest_.read_var_uint();
    return r > 255 ? 255 : static_cast<uint8_t>(r);
  }
  uint64_t read_len() override { return rest_.read_var_uint(); }
  Any read_any() override { return crdt::read_any(rest_); }
  Bytes read_buf() override { return rest_.read_var_bytes(); }
  Any read_json() override;
  std::string read_key() override { return rest_.read_var_string(); }
};

enum class UpdateFormat { kV1, kV2 };
std::unique_ptr<UpdateEncoder> make_encoder(UpdateFormat f);
std::unique_ptr<UpdateDecoder> make_decoder(UpdateFormat f, ByteView data);

}  // namespace blobsync::crdt
