#include "store/strong_signature.h"

#include <cstdint>
#include <cstring>

#include "store/mime_sniffer.h"

namespace blobsync {

namespace {

using namespace std::string_view_literals;
using Bytes = std::span<const unsigned char>;

bool at(Bytes h, std::size_t off, std::string_view s) {
  return h.size() >= off && h.size() - off >= s.size() && std::memcmp(h.data() + off, s.data(), s.size()) == 0;
}
// REQUIRES for the readers: the bytes are inside h.
std::uint32_t be16(Bytes h, std::size_t o) { return std::uint32_t{h[o]} << 8 | h[o + 1]; }
std::uint32_t le16(Bytes h, std::size_t o) { return std::uint32_t{h[o + 1]} << 8 | h[o]; }
std::uint32_t be32(Bytes h, std::size_t o) { return be16(h, o) << 16 | be16(h, o + 2); }
std::uint32_t le32(Bytes h, std::size_t o) { return le16(h, o + 2) << 16 | le16(h, o); }

// Executables: each check asks no more than the OS loader does, so a crafted
// file that runs cannot slip under it.

// Linux checks the magic, e_type and e_machine (not EI_CLASS or EI_DATA), and
// reads e_type in its own byte order: REL, EXEC, DYN or CORE either way.
bool elf(Bytes h) {
  if (!at(h, 0, "\x7f" "ELF"sv) || h.size() < 18) return false;
  std::uint32_t le = le16(h, 16), be = be16(h, 16);
  return (le >= 1 && le <= 4) || (be >= 1 && be <= 4);
}

// "MZ" alone is a DOS .COM guess (1 in 65536 random buffers); Windows runs
// only images whose e_lfanew points at "PE\0\0".
bool pe(Bytes h) {
  if (!at(h, 0, "MZ"sv) || h.size() < 0x40) return false;
  return at(h, le32(h, 0x3c), "PE\0\0"sv);
}

// Mach-O CPU types (with or without the 64-bit ABI bits) a loader would take.
bool macho_cpu(std::uint32_t t) {
  std::uint32_t abi = t & 0xff000000u;
  if (abi != 0 && abi != 0x01000000u && abi != 0x02000000u) return false;
  switch (t & 0x00ffffffu) {
    case 1: case 6: case 7: case 10: case 11: case 12: case 13: case 14: case 18:  // vax .. arm, ppc
      return true;
    default:
      return false;
  }
}

bool macho(Bytes h) {
  if (h.size() < 8) return false;
  std::uint32_t m = be32(h, 0);
  if (m == 0xfeedfaceu || m == 0xfeedfacfu) return macho_cpu(be32(h, 4));
  if (m == 0xcefaedfeu || m == 0xcffaedfeu) return macho_cpu(le32(h, 4));
  return false;
}

// 0xcafebabe also starts a Java class, whose next word is its version
// (major >= 45 in the low half): a universal binary has a few architectures.
bool cafebabe(Bytes h) { return h.size() >= 12 && (be32(h, 0) == 0xcafebabeu || be32(h, 0) == 0xcafebabfu); }
bool macho_fat(Bytes h) {
  if (!cafebabe(h)) return false;
  std::uint32_t n = be32(h, 4);
  return n >= 1 && n <= 30 && macho_cpu(be32(h, 8));
}
bool java_class(Bytes h) {
  return cafebabe(h) && be32(h, 0) == 0xcafebabeu && be32(h, 4) >= 45 && be16(h, 6) >= 45 && be16(h, 6) < 100;
}

bool wasm(Bytes h) { return at(h, 0, "\0asm\x01\0\0\0"sv); }

// Images, audio, video, documents.

bool png(Bytes h) { return at(h, 0, "\x89PNG\r\n\x1a\n"sv); }

// FF D8 FF is only 24 bits, so the first segment must be well formed too:
// a JFIF/Exif header, or a known marker whose length lands on the next one.
bool jpeg(Bytes h) {
  if (!at(h, 0, "\xff\xd8\xff"sv) || h.size() < 6) return false;
  unsigned m = h[3];
  bool known = (m >= 0xe0 && m <= 0xef) || m == 0xdb || m == 0xc4 || m == 0xdd || m == 0xfe ||
               (m >= 0xc0 && m <= 0xcf && m != 0xc8 && m != 0xcc);
  std::uint32_t len = be16(h, 4);
  if (!known || len < 2) return false;
  if ((m == 0xe0 && (at(h, 6, "JFIF\0"sv) || at(h, 6, "JFXX\0"sv))) || (m == 0xe1 && at(h, 6, "Exif\0"sv)))
    return true;
  return 4 + len < h.size() && h[4 + len] == 0xff;
}

bool gif(Bytes h) { return at(h, 0, "GIF87a"sv) || at(h, 0, "GIF89a"sv); }
bool riff(Bytes h, std::string_view form) { return at(h, 0, "RIFF"sv) && at(h, 8, form); }
bool webp(Bytes h) { return riff(h, "WEBP"sv); }
bool wav(Bytes h) { return riff(h, "WAVE"sv); }
bool avi(Bytes h) { return riff(h, "AVI "sv); }

// "BM" alone is 16 bits: the reserved words are zero and the DIB header has
// one of its defined sizes.
bool bmp(Bytes h) {
  if (!at(h, 0, "BM"sv) || h.size() < 18 || le32(h, 6) != 0) return false;
  switch (le32(h, 14)) {
    case 12: case 40: case 52: case 56: case 64: case 108: case 124:
      return true;
    default:
      return false;
  }
}

bool tiff(Bytes h) { return at(h, 0, "II*\0"sv) || at(h, 0, "MM\0*"sv); }
// The brand says what an ISO-BMFF file is; libmagic reads it.
bool iso_bmff(Bytes h) { return at(h, 4, "ftyp"sv) && be32(h, 0) >= 8; }
bool ebml(Bytes h) { return at(h, 0, "\x1a\x45\xdf\xa3"sv); }
bool ogg(Bytes h) { return at(h, 0, "OggS\0"sv); }
// fLaC, then the STREAMINFO block (type 0, 34 bytes) that must come first.
bool flac(Bytes h) { return at(h, 0, "fLaC"sv) && h.size() >= 8 && (h[4] & 0x7f) == 0 && at(h, 5, "\0\0\x22"sv); }
// An ID3v2 tag (version 2-4, undefined flag bits clear, a syncsafe size);
// bare MPEG frame syncs are 11 bits, not strong.
bool id3(Bytes h) {
  return at(h, 0, "ID3"sv) && h.size() >= 10 && h[3] >= 2 && h[3] <= 4 && h[4] != 0xff && (h[5] & 0x0f) == 0 &&
         ((h[6] | h[7] | h[8] | h[9]) & 0x80) == 0;
}
bool pdf(Bytes h) { return at(h, 0, "%PDF-"sv) && h.size() >= 6 && h[5] >= '1' && h[5] <= '9'; }

// Archives.

bool zip(Bytes h) { return at(h, 0, "PK\x03\x04"sv) || at(h, 0, "PK\x05\x06"sv); }
// 1F 8B 08 is 24 bits: reserved flag bits clear, XFL 0/2/4, OS 0-13 or 255.
bool gzip(Bytes h) {
  if (!at(h, 0, "\x1f\x8b\x08"sv) || h.size() < 10 || (h[3] & 0xe0) != 0) return false;
  return (h[8] == 0 || h[8] == 2 || h[8] == 4) && (h[9] <= 13 || h[9] == 0xff);
}
// "BZh" and a block size, then a block (pi) or the end of stream (sqrt pi).
bool bzip2(Bytes h) {
  return at(h, 0, "BZh"sv) && h.size() >= 10 && h[3] >= '1' && h[3] <= '9' &&
         (at(h, 4, "\x31\x41\x59\x26\x53\x59"sv) || at(h, 4, "\x17\x72\x45\x38\x50\x90"sv));
}
bool xz(Bytes h) { return at(h, 0, "\xfd" "7zXZ\0"sv); }
// The frame header's reserved bit must be clear (decoders refuse it set).
bool zstd(Bytes h) { return at(h, 0, "\x28\xb5\x2f\xfd"sv) && h.size() >= 5 && (h[4] & 0x08) == 0; }
bool sevenz(Bytes h) { return at(h, 0, "7z\xbc\xaf\x27\x1c"sv); }
bool rar(Bytes h) { return at(h, 0, "Rar!\x1a\x07\x00"sv) || at(h, 0, "Rar!\x1a\x07\x01\x00"sv); }
bool tar(Bytes h) { return at(h, 257, "ustar\0"sv) || at(h, 257, "ustar  \0"sv); }

struct Entry {
  StrongSignature sig;
  bool (*match)(Bytes);
};

// Offset-0 magics first; tar (at 257) last.
constexpr Entry kTable[] = {
    {{"ELF", "application/x-executable",
      {"application/x-executable", "application/x-pie-executable", "application/x-sharedlib",
       "application/x-object", "application/x-coredump"}},
     elf},
    {{"PE", "application/vnd.microsoft.portable-executable",
      {"application/vnd.microsoft.portable-executable", "application/x-dosexec", "application/x-msdownload"}},
     pe},
    {{"Mach-O", "application/x-mach-binary", {"application/x-mach-binary"}}, macho},
    {{"Mach-O universal", "application/x-mach-binary", {"application/x-mach-binary"}}, macho_fat},
    {{"Java class", "application/x-java-applet", {"application/x-java-applet", "application/java-vm"}}, java_class},
    {{"WebAssembly", "application/wasm", {"application/wasm"}}, wasm},
    {{"PNG", "image/png", {"image/png", "image/apng", "image/vnd.mozilla.apng"}}, png},
    {{"JPEG", "image/jpeg", {"image/jpeg"}}, jpeg},
    {{"GIF", "image/gif", {"image/gif"}}, gif},
    {{"WebP", "image/webp", {"image/webp"}}, webp},
    {{"WAV", "audio/x-wav", {"audio/x-wav", "audio/wav", "audio/vnd.wave"}}, wav},
    {{"AVI", "video/x-msvideo", {"video/x-msvideo", "video/avi"}}, avi},
    {{"BMP", "image/bmp", {"image/bmp", "image/x-ms-bmp"}}, bmp},
    {{"TIFF", "image/tiff", {"image/*"}}, tiff},  // camera raws are TIFF too
    {{"ISO-BMFF", "", {"video/*", "audio/*", "image/*"}}, iso_bmff},
    {{"EBML", "", {"video/*", "audio/*"}}, ebml},
    {{"Ogg", "", {"audio/*", "video/*", "application/ogg"}}, ogg},
    {{"FLAC", "audio/flac", {"audio/flac", "audio/x-flac"}}, flac},
    {{"ID3", "", {"audio/*"}}, id3},
    {{"PDF", "application/pdf", {"application/pdf"}}, pdf},
    {{"ZIP", "application/zip", {"application/*"}}, zip},  // docx, jar, epub, apk...
    {{"gzip", "application/gzip", {"application/gzip", "application/x-gzip"}}, gzip},
    {{"bzip2", "application/x-bzip2", {"application/x-bzip2"}}, bzip2},
    {{"xz", "application/x-xz", {"application/x-xz"}}, xz},
    {{"zstd", "application/zstd", {"application/zstd"}}, zstd},
    {{"7z", "application/x-7z-compressed", {"application/x-7z-compressed"}}, sevenz},
    {{"RAR", "application/x-rar", {"application/x-rar", "application/vnd.rar", "application/x-rar-compressed"}},
     rar},
    {{"tar", "application/x-tar", {"application/x-tar", "application/x-gtar"}}, tar},
};

bool names(std::string_view pattern, std::string_view guess) {
  if (pattern.empty()) return false;
  if (pattern.ends_with("/*")) return guess.starts_with(pattern.substr(0, pattern.size() - 1));
  return guess == pattern;
}

}  // namespace

const StrongSignature* strong_signature(std::span<const std::byte> head) {
  Bytes h(reinterpret_cast<const unsigned char*>(head.data()), head.size());
  for (const auto& e : kTable)
    if (e.match(h)) return &e.sig;
  return nullptr;
}

std::string_view confirmed_mime(const StrongSignature& sig, std::string_view guess) {
  // libmagic's fallbacks name no format ("application/*" must not take them).
  if (!is_generic_mime(guess))
    for (auto p : sig.names)
      if (names(p, guess)) return guess;
  return sig.mime;
}

}  // namespace blobsync
