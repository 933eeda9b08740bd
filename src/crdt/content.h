// Content: the payload of an Item (yjs Content* classes). One class with a
// kind tag. Strings count UTF-16 code units exactly as yjs does (lengths,
// clocks, split points), but are stored compactly: one byte per unit while
// every unit is below 0x100 (Latin-1, what most text is), two bytes (UTF-16)
// once any unit is not; a room's text is most of its memory (issue #20).
// Everything but strings lives in a lazily allocated extension to keep text
// items small.
//
// Splitting copies only the smaller side: when the head is smaller, the
// right part takes the buffer and skips the head (`n_` units at its front),
// so splitting one struct at N points copies O(N log N) units in any order
// (yjs copies the tail every time: O(N^2) for N splits left to right).
//
// Thread safety: plain value; a Type content points at a Branch owned by its
// Doc and follows the Doc's contract.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/any.h"

namespace blobsync::crdt {

struct Branch;
class UpdateEncoder;
class UpdateDecoder;

enum class ContentRef : uint8_t {
  kDeleted = 1,
  kJson = 2,
  kBinary = 3,
  kString = 4,
  kEmbed = 5,
  kFormat = 6,
  kType = 7,
  kAny = 8,
  kDoc = 9,
};

enum class TypeRef : uint8_t {
  kArray = 0,
  kMap = 1,
  kText = 2,
  kXmlElement = 3,
  kXmlFragment = 4,
  kXmlHook = 5,
  kXmlText = 6,
  kUnknown = 15,  // a root that was never asked for with a concrete type
};

// Every member has an initializer so that the factories below can name only
// the ones their kind uses.
struct ContentExt {
  AnyArray values{};     // kJson, kAny
  Bytes bytes{};         // kBinary
  std::string key{};     // kFormat key, kDoc guid, kType node/hook name
  Any value{};           // kEmbed, kFormat value, kDoc opts
  TypeRef type_ref = TypeRef::kArray;  // kType
  Branch* branch = nullptr;            // kType, once integrated into a Doc
};

class Content {
 public:
  Content() = default;
  static Content deleted(uint64_t len) {
    Content c(ContentRef::kDeleted);
    c.n_ = len;
    return c;
  }
  static Content string(std::u16string_view s);
  static Content any(AnyArray values) { return {ContentRef::kAny, {.values = std::move(values)}}; }
  static Content json(AnyArray values) { return {ContentRef::kJson, {.values = std::move(values)}}; }
  static Content binary(Bytes b) { return {ContentRef::kBinary, {.bytes = std::move(b)}}; }
  static Content embed(Any v) { return {ContentRef::kEmbed, {.value = std::move(v)}}; }
  static Content format(std::string key, Any v) {
    return {ContentRef::kFormat, {.key = std::move(key), .value = std::move(v)}};
  }
  static Content type(TypeRef ref, std::string name = {}) {
    return {ContentRef::kType, {.key = std::move(name), .type_ref = ref}};
  }
  static Content doc(std::string guid, Any opts) {
    return {ContentRef::kDoc, {.key = std::move(guid), .value = std::move(opts)}};
  }

  Content(Content&&) = default;
  Content& operator=(Content&&) = default;
  // Deep copy (a Type's branch pointer is not copied).
  Content clone() const;

  ContentRef ref() const { return ref_; }
  uint64_t length() const;
  bool countable() const { return ref_ != ContentRef::kDeleted && ref_ != ContentRef::kFormat; }
  // Splits off and returns [offset, length); REQUIRES 0 < offset < length()
  // and a splittable kind (Deleted, JSON, String, Any). A split inside a
  // surrogate pair turns both halves into U+FFFD (yjs#248).
  Content splice(uint64_t offset);
  // Appends right if both are the same mergeable kind.
  bool merge_with(Content& right);

  // The string (kString) past the skipped front, as UTF-16 (a copy; see
  // append_str) / the values (kJson, kAny) past the skipped front.
  std::u16string str() const {
    std::u16string s;
    append_str(s);
    return s;
  }
  void append_str(std::u16string& out) const;
  // One byte per code unit (every unit < 0x100) rather than two.
  bool narrow() const { return !wide_; }
  std::span<const Any> values() const;
  // Bytes the string buffer holds (skipped front included) / values the
  // values buffer holds (memory tests).
  size_t capacity() const { return ref_ == ContentRef::kString ? str_.capacity() : ext_ ? ext_->values.capacity() : 0; }
  const ContentExt& x() const { return *ext_; }
  ContentExt& x() { return ext(); }
  bool has_ext() const { return ext_ != nullptr; }

  // Writes the body, skipping the first `offset` units (sliced first struct).
  void write(UpdateEncoder& enc, uint64_t offset) const;
  // Reads the body for content ref `ref`; sets a decoder error on bad input.
  static Content read(UpdateDecoder& dec, uint8_t ref);

 private:
  explicit Content(ContentRef r) : ref_(r) {}
  Content(ContentRef r, ContentExt e) : ref_(r), ext_(std::make_unique<ContentExt>(std::move(e))) {}
  ContentExt& ext() {
    if (!ext_) ext_ = std::make_unique<ContentExt>();
    return *ext_;
  }
  // Moves the live part to the front of a right-sized buffer.
  void compact();
  uint64_t skip() const { return ref_ == ContentRef::kDeleted ? 0 : n_; }
  // kString: code units in the buffer, skipped front included.
  size_t units() const { return str_.size() >> (wide_ ? 1 : 0); }
  char16_t unit(size_t i) const;
  void set_unit(size_t i, char16_t u);
  // Rewrites a narrow buffer as UTF-16 (before appending a unit >= 0x100).
  void widen();
  void append_units(std::u16string_view s);
  ContentRef ref_ = ContentRef::kDeleted;
  bool wide_ = false;  // kString: str_ holds UTF-16 units (native order), else one byte per unit
  uint64_t n_ = 0;  // kDeleted: the length; kString/kJson/kAny: units skipped at the front
  std::string str_;  // kString: the code units, one or two bytes each (wide_)
  std::unique_ptr<ContentExt> ext_;
};

}  // namespace blobsync::crdt
