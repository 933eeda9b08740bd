// StrongSignature: the formats a magic number identifies with certainty.
//
// libmagic also answers from weak patterns: 1.3% of random 16 KiB buffers
// sniff as something specific (application/x-dosexec from a DOS .COM guess,
// application/zlib from two bytes, MPEG audio from a frame sync...), and
// encrypted or compressed uploads look random. This table holds only
// signatures that random bytes carry with probability 2^-31 or less each:
// executables with a real header (ELF, PE with its "PE\0\0" header, Mach-O
// thin and fat, Java class, WebAssembly), the allow-listed image, audio and
// video formats, PDF, and common archives. The MIME sniffer trusts libmagic's
// answer for binary content only when one of these backs it, so no other
// binary content can get an upload refused.
//
// Thread safety: pure functions over immutable tables.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace blobsync {

struct StrongSignature {
  std::string_view format;  // "ELF", "PNG"... (messages, tests)
  // The type the signature establishes by itself, or "" when only libmagic's
  // finer answer names it (ISO-BMFF brands, Matroska doc types, Ogg codecs).
  std::string_view mime;
  // libmagic's names for this format; "video/*" matches a whole top-level type.
  std::array<std::string_view, 5> names;
};

// The strong signature `head` carries, or nullptr. Looks at all of `head`
// (a PE header may be anywhere in it, a tar header is at 257).
const StrongSignature* strong_signature(std::span<const std::byte> head);

// The type content with signature `sig` certainly has, given libmagic's answer
// `guess`: the guess when it names the same format (it is often more precise:
// application/x-pie-executable for an ELF, a .docx for a ZIP), else the
// signature's own type ("" when it has none: nothing is certain).
std::string_view confirmed_mime(const StrongSignature& sig, std::string_view guess);

}  // namespace blobsync
