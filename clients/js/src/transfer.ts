// One upload to, or one download from, one server over a RoomSocket
// (docs/protocol.md, "Exchanges"): windowed by CREDIT, every received chunk
// checked against its hash before it is written to the cache and credited,
// so at most `window` chunks (4 MiB by default) are in memory at a time.
// Retrying, resuming and choosing holders is the provider's job.
// Thread safety: single-threaded (an event loop).
import { type BlobCache, type CacheEntryInfo, bitmapBytes, bitSet, setBit } from './cache.js'
import type { HasherFactory, Hasher } from './hash.js'
import {
  type BlobMessage, type Range, CHUNK_SIZE, ErrorCode, MsgType, chunkCountOf, chunkLength, encodeCancel, encodeChunk,
  encodeCredit, encodeRequest, encodeUpload, equalBytes, missingRanges
} from './messages.js'
import type { RoomSocket } from './room-socket.js'

/** An error of the blob channel. `code` is the protocol's name (NOT_FOUND, BUSY, ...) or CONNECTION, TIMEOUT, CORRUPT. */
export class BlobSyncError extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
    this.name = 'BlobSyncError'
  }

  /** Worth trying again later on the same server. */
  get retryable (): boolean { return this.code === 'CONNECTION' || this.code === 'BUSY' || this.code === 'TIMEOUT' }
}

export const abortError = (signal: AbortSignal): Error =>
  (signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the operation was aborted'), { name: 'AbortError' }))

/** What a download has so far: survives from one holder to the next. */
export interface DownloadState {
  key: string
  hash: Uint8Array
  info: CacheEntryInfo | null
  present: Uint8Array
  inCache: boolean // the cache has a partial entry for key
  // A running blob hash over chunks [0, hashedUpTo): saves re-reading the cache at the end.
  running: Hasher | null
  hashedUpTo: number
}

export interface TransferOptions {
  idleMs: number
  window?: number
  signal?: AbortSignal
  onBytes?: (n: number) => void
}

// Ascending, non-overlapping, non-empty, inside [0, count) (docs/protocol.md, `ranges`).
function validRanges (ranges: Range[], count: number): boolean {
  let next = 0
  for (const [first, n] of ranges) {
    if (n < 1 || first < next || first + n > count) return false
    next = first + n
  }
  return true
}

const expand = (ranges: Range[]): number[] => {
  const out: number[] = []
  for (const [first, count] of ranges) for (let i = first; i < first + count; i++) out.push(i)
  return out
}

// Common plumbing: a request with an idle timer, abort, and a serial queue
// for the async work each message needs (so chunks are written in order).
function request<T> (sock: RoomSocket, opts: TransferOptions,
  start: (req: number, api: { finish: (v: T) => void, fail: (e: Error, cancel?: boolean) => void, enqueue: (f: () => Promise<void> | void) => void }) => void,
  onMessage: (m: BlobMessage) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let finished = false
    let timer: ReturnType<typeof setTimeout> | null = null
    let chain: Promise<void> = Promise.resolve()
    const cleanup = (): void => {
      finished = true
      sock.end(req)
      if (timer !== null) clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    // Settles only after the work already running (a cache write) is over, so
    // the caller's next step (the next holder) never races this one's writes;
    // queued work not yet started is skipped (it checks `finished`).
    const fail = (e: Error, cancel = false): void => {
      if (finished) return
      cleanup()
      if (cancel) sock.sendRaw(encodeCancel(req))
      void chain.finally(() => reject(e))
    }
    const finish = (v: T): void => { if (!finished) { cleanup(); void chain.finally(() => resolve(v)) } }
    const arm = (): void => {
      if (timer !== null) clearTimeout(timer)
      timer = setTimeout(() => fail(new BlobSyncError('TIMEOUT', `no reply for ${opts.idleMs / 1000} s`), true), opts.idleMs)
    }
    const enqueue = (f: () => Promise<void> | void): void => {
      chain = chain.then(async () => { if (!finished) await f() }).catch(e => fail(e as Error, true))
    }
    const onAbort = (): void => fail(abortError(opts.signal!), true)
    const req = sock.begin({
      message: (m) => { if (finished) return; arm(); onMessage(m) },
      closed: (reason) => fail(new BlobSyncError('CONNECTION', reason))
    })
    if (opts.signal?.aborted === true) { fail(abortError(opts.signal)); return }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    arm()
    start(req, { finish, fail, enqueue })
  })
}

const protocolError = (m: { code: number, message: string }): BlobSyncError =>
  new BlobSyncError(ErrorCode[m.code] ?? `ERROR ${m.code}`, `${ErrorCode[m.code] ?? `error ${m.code}`}: ${m.message}`)

/**
 * Fetches the chunks `st` lacks from the server behind `sock`, verifying each
 * one against the holder's META hash and writing it to the cache. Resolves
 * when every chunk is present (the blob hash is checked by the caller).
 */
export function download (sock: RoomSocket, st: DownloadState, cache: BlobCache, newHasher: HasherFactory,
  opts: TransferOptions): Promise<void> {
  const wanted: Range[] = st.info === null ? [] : missingRanges(st.present, st.info.chunkCount)
  if (st.info !== null && wanted.length === 0) return Promise.resolve()
  let expected: number[] = []
  let hashes: Uint8Array[] = []
  let k = 0
  let sha: Hasher | null = null
  let api: Parameters<Parameters<typeof request<void>>[2]>[1]
  return request<void>(sock, opts, (req, a) => {
    api = a
    if (!sock.sendRaw(encodeRequest(req, st.hash, opts.window ?? 16, wanted))) a.fail(new BlobSyncError('CONNECTION', 'not connected'))
  }, (m) => {
    const req = m.req
    switch (m.type) {
      case MsgType.META: api.enqueue(async () => {
        if (m.chunkCount !== chunkCountOf(m.size)) throw new BlobSyncError('CORRUPT', `META: ${m.chunkCount} chunks for ${m.size} bytes`)
        if (st.info !== null && st.info.size !== m.size) throw new BlobSyncError('CORRUPT', `META: size ${m.size}, but another holder said ${st.info.size}`)
        // Counted before anything is allocated: a hostile holder may claim any size.
        const want = st.info === null ? m.chunkCount : wanted.reduce((n, [, c]) => n + c, 0)
        if (m.hashes.length !== want) throw new BlobSyncError('CORRUPT', `META: ${m.hashes.length} chunk hashes for ${want} chunks`)
        expected = st.info === null ? expand([[0, m.chunkCount]]) : expand(wanted)
        hashes = m.hashes
        if (st.info === null) {
          st.info = { size: m.size, mimeType: m.mimeType, filename: '', chunkCount: m.chunkCount }
          st.present = new Uint8Array(bitmapBytes(m.chunkCount))
          if (st.inCache) await cache.setPartialInfo(st.key, st.info)
          else await cache.createPartial(st.key, st.info)
          st.inCache = true
          st.running = newHasher()
          st.hashedUpTo = 0
        }
      }); break
      case MsgType.CHUNK: api.enqueue(async () => {
        const info = st.info
        if (info === null || k >= expected.length) throw new BlobSyncError('CORRUPT', `chunk ${m.index} was not asked for`)
        if (m.index !== expected[k]) throw new BlobSyncError('CORRUPT', `chunk ${m.index} arrived where chunk ${expected[k]} was due`)
        if (m.data.length !== chunkLength(info.size, m.index)) throw new BlobSyncError('CORRUPT', `chunk ${m.index} has ${m.data.length} bytes`)
        sha = newHasher()
        sha.update(m.data)
        if (!equalBytes(sha.digest(), hashes[k])) throw new BlobSyncError('CORRUPT', `chunk ${m.index} does not match its hash (a corrupt holder or link)`)
        k++
        await cache.writeChunk(st.key, m.index, m.data)
        setBit(st.present, m.index)
        if (st.running !== null && st.hashedUpTo === m.index) {
          st.running.update(m.data)
          st.hashedUpTo++
        }
        sock.sendRaw(encodeCredit(req, 1))
        opts.onBytes?.(m.data.length)
      }); break
      case MsgType.DONE: api.enqueue(() => {
        if (st.info === null || k !== expected.length) throw new BlobSyncError('CORRUPT', `DONE after ${k} of ${expected.length} chunks`)
        api.finish()
      }); break
      case MsgType.ERROR: api.fail(protocolError(m)); break
    }
  })
}

export interface UploadSource {
  hash: Uint8Array
  size: number
  mimeType: string
  filename: string
  chunkHashes: Uint8Array[]
  readChunk: (index: number) => Promise<Uint8Array>
}

/**
 * Uploads the chunks the server asks for (WANT) and resolves on DONE, when
 * the server has verified, stored and announced the blob. Returns the bytes sent.
 */
export function upload (sock: RoomSocket, src: UploadSource, opts: TransferOptions): Promise<number> {
  let queue: number[] = []
  let window = 1
  let inflight: number[] = [] // lengths of the chunks sent and not yet credited
  let pumping = false
  let sentBytes = 0
  let finished = false
  let api: Parameters<Parameters<typeof request<number>>[2]>[1]
  const pump = async (): Promise<void> => {
    if (pumping) return
    pumping = true
    try {
      while (!finished && inflight.length < window && queue.length > 0) {
        const i = queue.shift()!
        inflight.push(chunkLength(src.size, i))
        const data = await src.readChunk(i)
        if (finished) break
        if (!sock.sendRaw(encodeChunk(req, i, data))) throw new BlobSyncError('CONNECTION', 'connection closed')
        sentBytes += data.length
      }
    } catch (e) {
      api.fail(e as Error, true)
    } finally { pumping = false }
  }
  let req = 0
  return request<number>(sock, opts, (r, a) => {
    req = r
    api = { ...a, finish: (v) => { finished = true; a.finish(v) }, fail: (e, c) => { finished = true; a.fail(e, c) } }
    const frame = encodeUpload(r, src.hash, src.size, src.mimeType, src.filename, src.chunkHashes)
    if (!sock.sendRaw(frame)) api.fail(new BlobSyncError('CONNECTION', 'not connected'))
  }, (m) => {
    switch (m.type) {
      case MsgType.WANT:
        // A second WANT (the server lost staged chunks) replaces the first.
        window = Math.max(1, Math.min(m.window, 256))
        if (!validRanges(m.missing, src.chunkHashes.length)) {
          api.fail(new BlobSyncError('CORRUPT', `WANT: chunk ranges outside the blob's ${src.chunkHashes.length} chunks`), true)
          return
        }
        queue = expand(m.missing)
        inflight = []
        void pump()
        break
      case MsgType.CREDIT:
        for (let c = 0; c < m.chunks && inflight.length > 0; c++) opts.onBytes?.(inflight.shift()!)
        void pump()
        break
      case MsgType.DONE:
        if (!equalBytes(m.hash, src.hash)) api.fail(new BlobSyncError('CORRUPT', 'DONE names another blob'))
        else api.finish(sentBytes)
        break
      case MsgType.ERROR: api.fail(protocolError(m)); break
    }
  })
}

/** Checks a complete partial entry against the blob hash (re-reading the cache unless hashed on arrival). */
export async function verifyWhole (st: DownloadState, cache: BlobCache, newHasher: HasherFactory): Promise<boolean> {
  const info = st.info!
  let digest: Uint8Array
  if (st.running !== null && st.hashedUpTo === info.chunkCount) {
    digest = st.running.digest()
  } else {
    const h = newHasher()
    for (let i = 0; i < info.chunkCount; i++) {
      if (!bitSet(st.present, i)) return false
      h.update(await cache.readChunk(st.key, i, chunkLength(info.size, i)))
    }
    digest = h.digest()
  }
  st.running = null
  return equalBytes(digest, st.hash)
}

export { CHUNK_SIZE }
