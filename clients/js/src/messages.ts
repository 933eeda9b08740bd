// The blob channel's messages (WebSocket message types 10-20, docs/protocol.md):
// encoding and decoding with lib0, as y-protocols encodes the Yjs channel.
// Pure functions; no state.
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const CHUNK_SIZE = 262144
export const HASH_BYTES = 32

export const MsgType = {
  UPLOAD: 10, REQUEST: 11, CHUNK: 12, HAVE: 13, META: 14, WANT: 15,
  CREDIT: 16, DONE: 17, ERROR: 18, CANCEL: 19, HAVE_REPLY: 20
} as const

export const ErrorCode: Record<number, string> = {
  1: 'NOT_FOUND', 2: 'BAD_REQUEST', 3: 'TOO_LARGE', 4: 'UNSUPPORTED_TYPE', 5: 'HASH_MISMATCH',
  6: 'FORBIDDEN', 7: 'BUSY', 8: 'INTERNAL', 9: 'CANCELLED'
}

/** A range of chunk indices: [first, count]. */
export type Range = [number, number]

export type BlobMessage =
  | { type: 12, req: number, index: number, data: Uint8Array }
  | { type: 14, req: number, size: number, mimeType: string, chunkCount: number, hashes: Uint8Array[] }
  | { type: 15, req: number, window: number, missing: Range[] }
  | { type: 16, req: number, chunks: number }
  | { type: 17, req: number, hash: Uint8Array }
  | { type: 18, req: number, code: number, message: string }
  | { type: 20, req: number, bitmap: Uint8Array }
  | { type: 10 | 11 | 13 | 19, req: number }

export const chunkCountOf = (size: number): number => Math.ceil(size / CHUNK_SIZE)
export const chunkLength = (size: number, index: number): number =>
  Math.min(CHUNK_SIZE, size - index * CHUNK_SIZE)

function frame (type: number, req: number, body: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, type)
  encoding.writeVarUint(e, req)
  body(e)
  return encoding.toUint8Array(e)
}

function writeRanges (e: encoding.Encoder, ranges: Range[]): void {
  encoding.writeVarUint(e, ranges.length)
  for (const [first, count] of ranges) {
    encoding.writeVarUint(e, first)
    encoding.writeVarUint(e, count)
  }
}

export function encodeUpload (req: number, hash: Uint8Array, size: number, mimeType: string, filename: string,
  chunkHashes: Uint8Array[]): Uint8Array {
  return frame(MsgType.UPLOAD, req, e => {
    encoding.writeUint8Array(e, hash)
    encoding.writeVarUint(e, size)
    encoding.writeVarString(e, mimeType)
    encoding.writeVarString(e, filename)
    encoding.writeVarUint(e, chunkHashes.length)
    for (const h of chunkHashes) encoding.writeUint8Array(e, h)
  })
}

export function encodeRequest (req: number, hash: Uint8Array, window: number, wanted: Range[]): Uint8Array {
  return frame(MsgType.REQUEST, req, e => {
    encoding.writeUint8Array(e, hash)
    encoding.writeVarUint(e, window)
    writeRanges(e, wanted)
  })
}

// One copy of the data: the header is small, the chunk is set after it.
export function encodeChunk (req: number, index: number, data: Uint8Array): Uint8Array {
  const head = frame(MsgType.CHUNK, req, e => {
    encoding.writeVarUint(e, index)
    encoding.writeVarUint(e, data.length)
  })
  const out = new Uint8Array(head.length + data.length)
  out.set(head, 0)
  out.set(data, head.length)
  return out
}

export const encodeCredit = (req: number, chunks: number): Uint8Array =>
  frame(MsgType.CREDIT, req, e => encoding.writeVarUint(e, chunks))
export const encodeCancel = (req: number): Uint8Array => frame(MsgType.CANCEL, req, () => {})

export function encodeHave (req: number, hashes: Uint8Array[]): Uint8Array {
  return frame(MsgType.HAVE, req, e => {
    encoding.writeVarUint(e, hashes.length)
    for (const h of hashes) encoding.writeUint8Array(e, h)
  })
}

function readRanges (d: decoding.Decoder): Range[] {
  const n = decoding.readVarUint(d)
  const out: Range[] = []
  for (let i = 0; i < n; i++) out.push([decoding.readVarUint(d), decoding.readVarUint(d)])
  return out
}

/** Decodes a blob-channel message (type 10-20). Throws on malformed input. */
export function decodeBlobMessage (bytes: Uint8Array): BlobMessage {
  const d = decoding.createDecoder(bytes)
  const type = decoding.readVarUint(d)
  const req = decoding.readVarUint(d)
  let m: BlobMessage
  switch (type) {
    case MsgType.CHUNK: {
      const index = decoding.readVarUint(d)
      m = { type, req, index, data: decoding.readVarUint8Array(d) }
      break
    }
    case MsgType.META: {
      const size = decoding.readVarUint(d)
      const mimeType = decoding.readVarString(d)
      const chunkCount = decoding.readVarUint(d)
      const n = decoding.readVarUint(d)
      if (n * HASH_BYTES > bytes.length) throw new Error('META: more hashes than bytes')
      const hashes: Uint8Array[] = []
      for (let i = 0; i < n; i++) hashes.push(decoding.readUint8Array(d, HASH_BYTES))
      m = { type, req, size, mimeType, chunkCount, hashes }
      break
    }
    case MsgType.WANT: m = { type, req, window: decoding.readVarUint(d), missing: readRanges(d) }; break
    case MsgType.CREDIT: m = { type, req, chunks: decoding.readVarUint(d) }; break
    case MsgType.DONE: m = { type, req, hash: decoding.readUint8Array(d, HASH_BYTES) }; break
    case MsgType.ERROR: m = { type, req, code: decoding.readVarUint(d), message: decoding.readVarString(d) }; break
    case MsgType.HAVE_REPLY: m = { type, req, bitmap: decoding.readVarUint8Array(d) }; break
    case 10: case 11: case 13: case 19: return { type, req }
    default: throw new Error(`unknown blob message type ${type}`)
  }
  if (decoding.hasContent(d)) throw new Error(`blob message type ${type}: trailing bytes`)
  return m
}

export const toHex = (b: Uint8Array): string => {
  let s = ''
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0')
  return s
}

export function fromHex (hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** 'sha256:<64 hex>' -> 32 bytes; throws a clear error on anything else. */
export function parseHashRef (ref: string): Uint8Array {
  const m = /^sha256:([0-9a-f]{64})$/.exec(ref)
  if (m === null) throw new TypeError(`not a blob hash (want 'sha256:' and 64 lower-case hex digits): ${JSON.stringify(ref)}`)
  return fromHex(m[1])
}

export const hashRef = (hash: Uint8Array): string => 'sha256:' + toHex(hash)

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The ranges of indices in [0, count) whose bit is clear in `present`. */
export function missingRanges (present: Uint8Array, count: number): Range[] {
  const out: Range[] = []
  let start = -1
  for (let i = 0; i < count; i++) {
    const have = ((present[i >> 3] >> (i & 7)) & 1) === 1
    if (!have && start < 0) start = i
    if (have && start >= 0) { out.push([start, i - start]); start = -1 }
  }
  if (start >= 0) out.push([start, count - start])
  return out
}
