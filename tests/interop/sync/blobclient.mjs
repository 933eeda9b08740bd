// A small blob-channel client implementing docs/protocol.md, for tests:
// upload (windowed, resumable, with fault injection), download (verifies
// every chunk against META's hashes), HAVE.
import crypto from 'node:crypto'
import { WebSocket, encoding, decoding } from './harness.mjs'

export const CHUNK = 262144
export const T = { UPLOAD: 10, REQUEST: 11, CHUNK: 12, HAVE: 13, META: 14, WANT: 15, CREDIT: 16, DONE: 17, ERROR: 18, CANCEL: 19, HAVE_REPLY: 20 }
export const E = { 1: 'NOT_FOUND', 2: 'BAD_REQUEST', 3: 'TOO_LARGE', 4: 'UNSUPPORTED_TYPE', 5: 'HASH_MISMATCH', 6: 'FORBIDDEN', 7: 'BUSY', 8: 'INTERNAL', 9: 'CANCELLED', 10: 'QUOTA_EXCEEDED' }

export const sha256 = b => crypto.createHash('sha256').update(b).digest()
export const chunkCount = size => Math.ceil(size / CHUNK)
export const hashRef = h => 'sha256:' + Buffer.from(h).toString('hex')

export class BlobError extends Error {
  constructor (code, message) { super(`${E[code] || code}: ${message}`); this.code = E[code] || code }
}

function enc (type, fn) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, type)
  fn(e)
  return encoding.toUint8Array(e)
}
const writeRanges = (e, ranges) => {
  encoding.writeVarUint(e, ranges.length)
  for (const [first, count] of ranges) { encoding.writeVarUint(e, first); encoding.writeVarUint(e, count) }
}
const readRanges = d => {
  const n = decoding.readVarUint(d)
  const out = []
  for (let i = 0; i < n; i++) out.push([decoding.readVarUint(d), decoding.readVarUint(d)])
  return out
}

export function decode (buf) {
  const d = decoding.createDecoder(new Uint8Array(buf))
  const type = decoding.readVarUint(d)
  const m = { type }
  if (type < 10 || type > 20) return m
  m.req = decoding.readVarUint(d)
  switch (type) {
    case T.CHUNK: m.index = decoding.readVarUint(d); m.data = Buffer.from(decoding.readVarUint8Array(d)); break
    case T.META: {
      m.size = decoding.readVarUint(d); m.mime = decoding.readVarString(d); m.chunkCount = decoding.readVarUint(d)
      const n = decoding.readVarUint(d)
      m.hashes = []
      for (let i = 0; i < n; i++) m.hashes.push(Buffer.from(decoding.readUint8Array(d, 32)))
      break
    }
    case T.WANT: m.window = decoding.readVarUint(d); m.missing = readRanges(d); break
    case T.CREDIT: m.chunks = decoding.readVarUint(d); break
    case T.DONE: m.hash = Buffer.from(decoding.readUint8Array(d, 32)); break
    case T.ERROR: m.code = decoding.readVarUint(d); m.message = decoding.readVarString(d); break
    case T.HAVE_REPLY: m.bitmap = Buffer.from(decoding.readVarUint8Array(d)); break
  }
  return m
}

export class BlobClient {
  static async connect (url, room, { headers, query = '' } = {}) {
    const c = new BlobClient()
    c.ws = new WebSocket(`${url}/${room}${query}`, { headers, perMessageDeflate: false })
    c.ws.binaryType = 'nodebuffer'
    c.nextReq = 1
    c.handlers = new Map()
    c.yjsMessages = 0
    c.ws.on('message', data => {
      const m = decode(data)
      if (m.type < 10) { c.yjsMessages++; return }
      const h = c.handlers.get(m.req)
      if (h) h(m)
    })
    c.closed = new Promise(resolve => c.ws.on('close', resolve))
    await new Promise((resolve, reject) => { c.ws.on('open', resolve); c.ws.on('error', reject) })
    return c
  }

  req () { const r = this.nextReq; this.nextReq += 2; return r }
  send (bytes) { this.ws.send(bytes) }
  close () { this.ws.close() }
  terminate () { this.ws.terminate() }

  // blob: { hash, size, mime, filename, chunkHashes, chunk(i) -> Buffer }
  // opts: stopAfter (terminate the socket after sending that many chunks),
  // corrupt (index to send corrupted), onWant(msg)
  upload (blob, opts = {}) {
    const req = this.req()
    return new Promise((resolve, reject) => {
      let queue = []
      let inflight = 0
      let window = 16
      let sent = 0
      const wants = []
      const pump = () => {
        while (inflight < window && queue.length) {
          if (opts.stopAfter !== undefined && sent >= opts.stopAfter) {
            this.handlers.delete(req)
            this.terminate()
            return resolve({ interrupted: true, sent, wants })
          }
          const i = queue.shift()
          let data = blob.chunk(i)
          if (opts.corrupt === i) { data = Buffer.from(data); data[0] ^= 0xff }
          this.send(enc(T.CHUNK, e => { encoding.writeVarUint(e, req); encoding.writeVarUint(e, i); encoding.writeVarUint8Array(e, data) }))
          inflight++
          sent++
        }
      }
      this.handlers.set(req, m => {
        if (m.type === T.WANT) {
          wants.push(m)
          window = m.window
          queue = []
          for (const [first, count] of m.missing) for (let i = first; i < first + count; i++) queue.push(i)
          inflight = 0
          if (opts.onWant) opts.onWant(m)
          pump()
        } else if (m.type === T.CREDIT) {
          inflight -= m.chunks
          pump()
        } else if (m.type === T.DONE) {
          this.handlers.delete(req)
          resolve({ done: true, sent, wants })
        } else if (m.type === T.ERROR) {
          this.handlers.delete(req)
          reject(new BlobError(m.code, m.message))
        }
      })
      this.send(enc(T.UPLOAD, e => {
        encoding.writeVarUint(e, req)
        encoding.writeUint8Array(e, blob.hash)
        encoding.writeVarUint(e, blob.size)
        encoding.writeVarString(e, blob.mime || '')
        encoding.writeVarString(e, blob.filename || '')
        encoding.writeVarUint(e, blob.chunkHashes.length)
        for (const h of blob.chunkHashes) encoding.writeUint8Array(e, h)
      }))
    })
  }

  // Downloads; onChunk(index, data) gets every verified chunk in order.
  download (hash, { wanted = [], window = 16, onChunk } = {}) {
    const req = this.req()
    return new Promise((resolve, reject) => {
      let meta = null
      let k = 0
      const whole = crypto.createHash('sha256')
      const parts = []
      this.handlers.set(req, m => {
        if (m.type === T.META) meta = m
        else if (m.type === T.CHUNK) {
          if (!meta || !sha256(m.data).equals(meta.hashes[k])) {
            this.handlers.delete(req)
            return reject(new Error(`chunk ${m.index} does not match META hash`))
          }
          k++
          whole.update(m.data)
          if (onChunk) onChunk(m.index, m.data)
          else parts.push(m.data)
          this.send(enc(T.CREDIT, e => { encoding.writeVarUint(e, req); encoding.writeVarUint(e, 1) }))
        } else if (m.type === T.DONE) {
          this.handlers.delete(req)
          const digest = whole.digest()
          if (wanted.length === 0 && !digest.equals(Buffer.from(hash))) return reject(new Error('blob hash mismatch'))
          resolve({ meta, chunks: k, data: onChunk ? null : Buffer.concat(parts) })
        } else if (m.type === T.ERROR) {
          this.handlers.delete(req)
          reject(new BlobError(m.code, m.message))
        }
      })
      this.send(enc(T.REQUEST, e => {
        encoding.writeVarUint(e, req)
        encoding.writeUint8Array(e, hash)
        encoding.writeVarUint(e, window)
        writeRanges(e, wanted)
      }))
    })
  }

  have (hashes) {
    const req = this.req()
    return new Promise((resolve, reject) => {
      this.handlers.set(req, m => {
        this.handlers.delete(req)
        if (m.type === T.ERROR) return reject(new BlobError(m.code, m.message))
        resolve(hashes.map((_, i) => Boolean((m.bitmap[i >> 3] >> (i & 7)) & 1)))
      })
      this.send(enc(T.HAVE, e => {
        encoding.writeVarUint(e, req)
        encoding.writeVarUint(e, hashes.length)
        for (const h of hashes) encoding.writeUint8Array(e, h)
      }))
    })
  }
}

// n random bytes.
export function testBytes (n) {
  return crypto.randomBytes(n)
}

// A blob held in memory.
export function memoryBlob (data, mime = 'application/octet-stream', filename = 'blob.bin') {
  const n = chunkCount(data.length)
  const chunkHashes = []
  for (let i = 0; i < n; i++) chunkHashes.push(sha256(data.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, data.length))))
  return { hash: sha256(data), size: data.length, mime, filename, chunkHashes, chunk: i => data.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, data.length)) }
}

// A large blob generated chunk by chunk (deterministic from seed), never held whole.
export function generatedBlob (size, seed = 1, mime = 'application/octet-stream') {
  const n = chunkCount(size)
  const chunk = i => {
    const len = Math.min(CHUNK, size - i * CHUNK)
    const buf = Buffer.allocUnsafe(len)
    let x = (seed * 2654435761 + i * 40503 + 1) >>> 0
    for (let o = 0; o + 4 <= len; o += 4) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; buf.writeUInt32LE(x, o) }
    for (let o = len - (len % 4); o < len; o++) buf[o] = o & 0xff
    return buf
  }
  const whole = crypto.createHash('sha256')
  const chunkHashes = []
  for (let i = 0; i < n; i++) { const c = chunk(i); chunkHashes.push(sha256(c)); whole.update(c) }
  return { hash: whole.digest(), size, mime, filename: 'big.bin', chunkHashes, chunk }
}
