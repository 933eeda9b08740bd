#include "protocol/blob_messages.h"

#include <algorithm>

#include "core/chunking.h"
#include "crdt/lib0.h"

namespace blobsync::protocol {

namespace {

using crdt::Decoder;
using crdt::Encoder;

void put_hash(Encoder& e, const Digest& d) { e.write_bytes({d.bytes.data(), d.bytes.size()}); }

Digest get_hash(Decoder& d) {
  Digest out;
  auto view = d.read_view(32);
  if (view.size() == 32) std::copy(view.begin(), view.end(), out.bytes.begin());
  return out;
}

void put_ranges(Encoder& e, const std::vector<ChunkRange>& ranges) {
  e.write_var_uint(ranges.size());
  for (const auto& r : ranges) {
    e.write_var_uint(r.first);
    e.write_var_uint(r.count);
  }
}

std::vector<ChunkRange> get_ranges(Decoder& d) {
  std::uint64_t n = d.read_var_uint();
  if (n > d.remaining() / 2) {  // each range takes at least two bytes
    d.fail("range count exceeds message length");
    return {};
  }
  std::vector<ChunkRange> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n && d.ok(); ++i) {
    ChunkRange r;
    r.first = d.read_var_uint();
    r.count = d.read_var_uint();
    out.push_back(r);
  }
  return out;
}

std::vector<Digest> get_hashes(Decoder& d, std::uint64_t n) {
  if (n > d.remaining() / 32) {
    d.fail("hash count exceeds message length");
    return {};
  }
  std::vector<Digest> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n && d.ok(); ++i) out.push_back(get_hash(d));
  return out;
}

std::uint32_t get_window(Decoder& d) {
  std::uint64_t w = d.read_var_uint();
  if (d.ok() && (w == 0 || w > kMaxWindow)) d.fail("window must be 1-256 chunks");
  return static_cast<std::uint32_t>(w);
}

std::uint64_t get_req(Decoder& d, std::uint64_t* req_out) {
  std::uint64_t req = d.read_var_uint();
  if (d.ok() && req_out) *req_out = req;
  return req;
}

struct Writer {
  Encoder& e;
  void operator()(const UploadMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kUpload));
    e.write_var_uint(m.req);
    put_hash(e, m.hash);
    e.write_var_uint(m.size);
    e.write_var_string(m.mime_type);
    e.write_var_string(m.filename);
    e.write_var_uint(m.chunk_hashes.size());
    for (const auto& h : m.chunk_hashes) put_hash(e, h);
  }
  void operator()(const RequestMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kRequest));
    e.write_var_uint(m.req);
    put_hash(e, m.hash);
    e.write_var_uint(m.window);
    put_ranges(e, m.wanted);
  }
  void operator()(const ChunkMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kChunk));
    e.write_var_uint(m.req);
    e.write_var_uint(m.index);
    e.write_var_bytes(m.data);
  }
  void operator()(const HaveMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kHave));
    e.write_var_uint(m.req);
    e.write_var_uint(m.hashes.size());
    for (const auto& h : m.hashes) put_hash(e, h);
  }
  void operator()(const MetaMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kMeta));
    e.write_var_uint(m.req);
    e.write_var_uint(m.size);
    e.write_var_string(m.mime_type);
    e.write_var_uint(m.chunk_count);
    e.write_var_uint(m.chunk_hashes.size());
    for (const auto& h : m.chunk_hashes) put_hash(e, h);
  }
  void operator()(const WantMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kWant));
    e.write_var_uint(m.req);
    e.write_var_uint(m.window);
    put_ranges(e, m.missing);
  }
  void operator()(const CreditMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kCredit));
    e.write_var_uint(m.req);
    e.write_var_uint(m.chunks);
  }
  void operator()(const DoneMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kDone));
    e.write_var_uint(m.req);
    put_hash(e, m.hash);
  }
  void operator()(const ErrorMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kError));
    e.write_var_uint(m.req);
    e.write_var_uint(static_cast<std::uint32_t>(m.code));
    e.write_var_string(m.message);
  }
  void operator()(const CancelMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kCancel));
    e.write_var_uint(m.req);
  }
  void operator()(const HaveReplyMsg& m) {
    e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kHaveReply));
    e.write_var_uint(m.req);
    std::vector<std::uint8_t> bitmap((m.have.size() + 7) / 8, 0);
    for (std::size_t i = 0; i < m.have.size(); ++i)
      if (m.have[i]) bitmap[i / 8] = static_cast<std::uint8_t>(bitmap[i / 8] | (1u << (i % 8)));
    e.write_var_bytes(bitmap);
  }
};

Result<BlobMessage> decode_body(BlobMsg type, Decoder& d, std::uint64_t* req_out) {
  switch (type) {
    case BlobMsg::kUpload: {
      UploadMsg m;
      m.req = get_req(d, req_out);
      m.hash = get_hash(d);
      m.size = d.read_var_uint();
      m.mime_type = d.read_var_string();
      m.filename = d.read_var_string();
      std::uint64_t n = d.read_var_uint();
      if (d.ok() && n != chunk_count(m.size)) d.fail("chunk count does not match size");
      m.chunk_hashes = get_hashes(d, n);
      return m;
    }
    case BlobMsg::kRequest: {
      RequestMsg m;
      m.req = get_req(d, req_out);
      m.hash = get_hash(d);
      m.window = get_window(d);
      m.wanted = get_ranges(d);
      return m;
    }
    case BlobMsg::kChunk: {
      ChunkMsg m;
      m.req = get_req(d, req_out);
      m.index = d.read_var_uint();
      std::uint64_t len = d.read_var_uint();
      if (d.ok() && len > kChunkSize) d.fail("chunk larger than 256 KiB");
      if (d.ok()) m.data = d.read_view(static_cast<std::size_t>(len));
      return m;
    }
    case BlobMsg::kHave: {
      HaveMsg m;
      m.req = get_req(d, req_out);
      m.hashes = get_hashes(d, d.read_var_uint());
      return m;
    }
    case BlobMsg::kMeta: {
      MetaMsg m;
      m.req = get_req(d, req_out);
      m.size = d.read_var_uint();
      m.mime_type = d.read_var_string();
      m.chunk_count = d.read_var_uint();
      if (d.ok() && m.chunk_count != chunk_count(m.size)) d.fail("chunk count does not match size");
      std::uint64_t n = d.read_var_uint();
      if (d.ok() && n > m.chunk_count) d.fail("more chunk hashes than chunks");
      m.chunk_hashes = get_hashes(d, n);
      return m;
    }
    case BlobMsg::kWant: {
      WantMsg m;
      m.req = get_req(d, req_out);
      m.window = get_window(d);
      m.missing = get_ranges(d);
      return m;
    }
    case BlobMsg::kCredit: {
      CreditMsg m;
      m.req = get_req(d, req_out);
      std::uint64_t n = d.read_var_uint();
      if (d.ok() && (n == 0 || n > kMaxWindow)) d.fail("credit must be 1-256 chunks");
      m.chunks = static_cast<std::uint32_t>(n);
      return m;
    }
    case BlobMsg::kDone: {
      DoneMsg m;
      m.req = get_req(d, req_out);
      m.hash = get_hash(d);
      return m;
    }
    case BlobMsg::kError: {
      ErrorMsg m;
      m.req = get_req(d, req_out);
      std::uint64_t code = d.read_var_uint();
      if (d.ok() && (code < 1 || code > 10)) d.fail("unknown error code");
      m.code = static_cast<BlobErrorCode>(code);
      m.message = d.read_var_string();
      return m;
    }
    case BlobMsg::kCancel: {
      CancelMsg m;
      m.req = get_req(d, req_out);
      return m;
    }
    case BlobMsg::kHaveReply: {
      HaveReplyMsg m;
      m.req = get_req(d, req_out);
      auto bitmap = d.read_var_bytes();
      m.have.resize(bitmap.size() * 8);
      for (std::size_t i = 0; i < m.have.size(); ++i) m.have[i] = (bitmap[i / 8] >> (i % 8)) & 1;
      return m;
    }
  }
  return fail(Errc::kInvalidArgument, "unknown blob message type {}", static_cast<int>(type));
}

}  // namespace

bool is_blob_frame(std::span<const std::uint8_t> frame) {
  return !frame.empty() && frame[0] >= kFirstBlobMsg && frame[0] <= kLastBlobMsg;
}

Result<BlobMessage> decode_blob_message(std::span<const std::uint8_t> frame, std::uint64_t* req_out) {
  if (req_out) *req_out = 0;
  if (frame.size() > kMaxBlobFrame) return fail(Errc::kInvalidArgument, "blob message larger than 8 MiB");
  Decoder d(frame);
  std::uint64_t type = d.read_var_uint();
  if (!d.ok()) return fail(Errc::kInvalidArgument, "blob message: {}", d.error());
  if (type < kFirstBlobMsg || type > kLastBlobMsg)
    return fail(Errc::kInvalidArgument, "unknown blob message type {}", type);
  auto msg = decode_body(static_cast<BlobMsg>(type), d, req_out);
  if (!msg) return msg;
  if (!d.ok()) return fail(Errc::kInvalidArgument, "blob message type {}: {}", type, d.error());
  if (d.has_more()) return fail(Errc::kInvalidArgument, "blob message type {}: {} trailing bytes", type, d.remaining());
  return msg;
}

std::vector<std::uint8_t> encode_blob_message(const BlobMessage& msg) {
  Encoder e;
  std::visit(Writer{e}, msg);
  return e.take();
}

std::vector<std::uint8_t> encode_chunk_header(std::uint64_t req, std::uint64_t index, std::size_t data_size) {
  Encoder e;
  e.write_var_uint(static_cast<std::uint8_t>(BlobMsg::kChunk));
  e.write_var_uint(req);
  e.write_var_uint(index);
  e.write_var_uint(data_size);
  return e.take();
}

Result<std::uint64_t> check_ranges(const std::vector<ChunkRange>& ranges, std::uint64_t chunk_count) {
  std::uint64_t next = 0, total = 0;
  for (const auto& r : ranges) {
    if (r.count == 0) return fail(Errc::kInvalidArgument, "empty chunk range at {}", r.first);
    if (r.first < next) return fail(Errc::kInvalidArgument, "chunk ranges overlap or are not ascending at {}", r.first);
    if (r.first >= chunk_count || r.count > chunk_count - r.first)
      return fail(Errc::kInvalidArgument, "chunk range [{}, +{}) outside the blob's {} chunks", r.first, r.count,
                  chunk_count);
    next = r.first + r.count;
    total += r.count;
  }
  return total;
}

std::string_view blob_error_name(BlobErrorCode code) {
  switch (code) {
    case BlobErrorCode::kNotFound: return "NOT_FOUND";
    case BlobErrorCode::kBadRequest: return "BAD_REQUEST";
    case BlobErrorCode::kTooLarge: return "TOO_LARGE";
    case BlobErrorCode::kUnsupportedType: return "UNSUPPORTED_TYPE";
    case BlobErrorCode::kHashMismatch: return "HASH_MISMATCH";
    case BlobErrorCode::kForbidden: return "FORBIDDEN";
    case BlobErrorCode::kBusy: return "BUSY";
    case BlobErrorCode::kInternal: return "INTERNAL";
    case BlobErrorCode::kCancelled: return "CANCELLED";
    case BlobErrorCode::kQuotaExceeded: return "QUOTA_EXCEEDED";
  }
  return "UNKNOWN";
}

}  // namespace blobsync::protocol
