// createBlobSyncProvider: a Y.Doc synced with a room of a blobsync server
// (as y-websocket does, on the same socket) plus blobs: putBlob stores in the
// local cache then uploads through the room's blob channel; getBlob reads the
// cache, else fetches from the holders the room's `_blobRegistry` lists
// (shuffled, the connected server last), resuming at the next holder, with
// backoff between rounds.
// Thread safety: single-threaded (an event loop); one provider per doc.
import * as Y from 'yjs'
import { Observable } from 'lib0/observable'
import * as awarenessProtocol from 'y-protocols/awareness'
import { type BlobCache, type CachedBlob, bitmapBytes } from './cache.js'
import { type HasherFactory, loadHasher } from './hash.js'
import { CHUNK_SIZE, chunkCountOf, chunkLength, hashRef, missingRanges, parseHashRef } from './messages.js'
import { RoomSocket, type WebSocketConstructor } from './room-socket.js'
import { type PutData, chunksOf, describe, randomAccess } from './source.js'
import { BlobSyncError, type DownloadState, abortError, download, upload, verifyWhole } from './transfer.js'

/** A pointer to a blob, stored in app data (the seed design's BlobRef). */
export interface BlobRef {
  hash: `sha256:${string}`
  size: number
  mimeType: string
  filename: string
  chunkCount: number
}

export interface BlobProgress {
  hash?: string // unknown while a streamed put is being hashed
  direction: 'put' | 'get'
  phase: 'store' | 'upload' | 'download'
  loaded: number
  total?: number // unknown while a stream is being stored
}

export interface BlobSyncProviderOptions {
  /** The server's /sync base, e.g. ws://127.0.0.1:3913/sync. */
  url?: string
  /** The seed design's name for url. */
  serverUrl?: string
  room: string
  doc: Y.Doc
  /** A room token, sent as ?token=. */
  token?: string
  /** Node: where blobs are kept (default $XDG_CACHE_HOME/blobsync or ~/.cache/blobsync). */
  cacheDir?: string
  /** Any BlobCache (default IndexedDB in browsers, a directory in Node). */
  cache?: BlobCache
  WebSocketPolyfill?: WebSocketConstructor | typeof WebSocket
  awareness?: awarenessProtocol.Awareness
  /** Maximum reconnect backoff (y-websocket's maxBackoffTime), default 2500 ms. */
  maxBackoffMs?: number
  /** A transfer fails when its server sends nothing for this long (default 30 s). */
  idleTimeoutMs?: number
  /** getBlob: rounds over the holders (default 3) and the first backoff between rounds (default 1000 ms, doubling). */
  rounds?: number
  roundBackoffMs?: number
}

export interface PutOptions {
  filename?: string
  mimeType?: string
  onProgress?: (p: BlobProgress) => void
  signal?: AbortSignal
}

export interface GetOptions {
  onProgress?: (p: BlobProgress) => void
  signal?: AbortSignal
  /** Holders to try first, in this order, when the registry lists them. */
  preferHolders?: string[]
}

/** One holder tried by getBlob and why it did not deliver. */
export interface HolderAttempt { holder: string, round: number, error: string }

/** getBlob's error when holders are listed but none delivered: `attempts` says who was tried and why each failed. */
export class BlobFetchError extends Error {
  constructor (readonly hash: string, readonly attempts: HolderAttempt[], rounds: number) {
    const last = new Map<string, string>()
    for (const a of attempts) last.set(a.holder, a.error)
    super(`cannot fetch ${hash} after ${rounds} round${rounds === 1 ? '' : 's'}: ` +
      [...last].map(([h, e]) => `${h}: ${e}`).join('; '))
    this.name = 'BlobFetchError'
  }
}

const REGISTRY = '_blobRegistry'
const CONNECT_TIMEOUT_MS = 10000
const WRITES_IN_FLIGHT = 4
const MAX_HOLDERS = 32

// Canonical form for comparing holder URLs: lower-case scheme and host, no trailing slash, explicit port.
export function canonicalUrl (u: string): string {
  try {
    const url = new URL(u)
    const port = url.port !== '' ? url.port : (url.protocol === 'wss:' ? '443' : '80')
    return `${url.protocol}//${url.hostname.toLowerCase()}:${port}${url.pathname.replace(/\/+$/, '')}`
  } catch { return u }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  if (signal?.aborted === true) { reject(abortError(signal)); return }
  const onAbort = (): void => { clearTimeout(t); reject(abortError(signal!)) }
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
  signal?.addEventListener('abort', onAbort, { once: true })
})

const aborted = (signal?: AbortSignal): boolean => signal?.aborted === true

const withSignal = <T>(p: Promise<T>, signal?: AbortSignal): Promise<T> => signal === undefined ? p
  : Promise.race([p, new Promise<T>((_, reject) => {
    if (signal.aborted) reject(abortError(signal))
    signal.addEventListener('abort', () => reject(abortError(signal)), { once: true })
  })])

function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

const isNode = (): boolean => typeof globalThis.process?.versions?.node === 'string'

async function defaultCache (cacheDir: string | undefined): Promise<BlobCache> {
  if (typeof indexedDB !== 'undefined' && !isNode()) {
    const { IndexedDbBlobCache } = await import('./idb-cache.js')
    return new IndexedDbBlobCache()
  }
  const { FsBlobCache } = await import('./fs-cache.js')
  return new FsBlobCache(cacheDir)
}

async function webSocketClass (given: unknown): Promise<WebSocketConstructor> {
  if (given !== undefined) return given as WebSocketConstructor
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket as unknown as WebSocketConstructor
  try {
    const ws = await import('ws' as string) as { WebSocket?: unknown, default?: unknown }
    return (ws.WebSocket ?? ws.default) as WebSocketConstructor
  } catch {
    throw new Error('@blobsync/client: this runtime has no WebSocket (Node < 22): install `ws` or pass WebSocketPolyfill')
  }
}

export class BlobSyncProvider extends Observable<string> {
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly room: string
  readonly url: string
  /** Resolves when the document's first sync with the server is done. */
  readonly whenSynced: Promise<void>
  synced = false
  private socket: RoomSocket | null = null
  private readonly ready: Promise<{ cache: BlobCache, newHasher: HasherFactory, WS: WebSocketConstructor }>
  private readonly fetches = new Map<string, Promise<void>>()
  private readonly holderSockets = new Set<RoomSocket>()
  private destroyed = false

  constructor (private readonly o: BlobSyncProviderOptions) {
    super()
    const url = o.url ?? o.serverUrl
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new TypeError('createBlobSyncProvider: url (or serverUrl) must be a ws:// or wss:// URL')
    if (typeof o.room !== 'string' || o.room === '') throw new TypeError('createBlobSyncProvider: room must be a non-empty string')
    if (!(o.doc instanceof Y.Doc)) throw new TypeError('createBlobSyncProvider: doc must be a Y.Doc (of the same yjs module this package imports)')
    this.url = url.replace(/\/+$/, '')
    this.room = o.room
    this.doc = o.doc
    this.awareness = o.awareness ?? new awarenessProtocol.Awareness(o.doc)
    let settle!: { resolve: () => void, reject: (e: Error) => void }
    this.whenSynced = new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
    this.whenSynced.catch(() => {}) // rejected only when refused; callers that await it see it
    const roomUrl = this.roomUrl(this.url)
    const doc = this.doc
    const awareness = this.awareness
    this.ready = (async () => {
      const [cache, newHasher, WS] = await Promise.all([
        o.cache ?? defaultCache(o.cacheDir), loadHasher(), webSocketClass(o.WebSocketPolyfill)])
      if (!this.destroyed) {
        this.socket = new RoomSocket({
          url: roomUrl,
          WebSocket: WS,
          doc,
          awareness,
          reconnect: true,
          maxBackoffMs: o.maxBackoffMs,
          onStatus: (status) => this.emit('status', [{ status }]),
          onSynced: (s) => {
            this.synced = s
            if (s) settle.resolve()
            this.emit('sync', [s])
          },
          onRefused: (e) => settle.reject(e)
        })
      }
      return { cache, newHasher, WS }
    })()
    this.ready.catch((e: Error) => settle.reject(e))
  }

  private roomUrl (base: string): string {
    const q = this.o.token !== undefined ? `?token=${encodeURIComponent(this.o.token)}` : ''
    return `${base}/${this.room}${q}`
  }

  /** The connected socket (tests drop it to simulate a network failure). */
  get connection (): RoomSocket | null { return this.socket }

  private liveSocket (): RoomSocket {
    if (this.destroyed || this.socket === null) throw new Error('the provider was destroyed')
    return this.socket
  }

  private progress (fn: ((p: BlobProgress) => void) | undefined, p: BlobProgress): void {
    fn?.(p)
    this.emit('blob-progress', [p])
  }

  /** Is the blob complete in the local cache? */
  async hasBlob (hash: string): Promise<boolean> {
    parseHashRef(hash)
    const { cache } = await this.ready
    return (await cache.stat(hash)) !== null
  }

  /**
   * Stores `data` in the cache (hashing it on the way), then uploads it to the
   * connected server; resolves with its BlobRef once the server has verified,
   * stored and announced it in the room's _blobRegistry. A disconnect midway
   * resumes after the reconnect (the server says which chunks it lacks).
   */
  async putBlob (data: PutData, opts: PutOptions = {}): Promise<BlobRef> {
    const kind = describe(data)
    const { cache, newHasher } = await this.ready
    const signal = opts.signal
    const file = data as { name?: unknown, type?: unknown }
    const filename = opts.filename ?? (typeof file.name === 'string' ? file.name : '')
    const declared = opts.mimeType ?? (kind === 'blob' && typeof file.type === 'string' ? file.type : '')
    const knownSize = kind === 'bytes' ? (data as Uint8Array).length : kind === 'blob' ? (data as Blob).size : undefined

    // 1. Stage into the cache, hashing each chunk and the whole.
    const key = `staging:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`
    await cache.createPartial(key, null)
    const whole = newHasher()
    const chunkHashes: Uint8Array[] = []
    let size = 0
    // Hashing (this thread) overlaps the cache's writes (I/O threads): a few
    // writes stay in flight, so at most WRITES_IN_FLIGHT chunks are held.
    const writing: Array<Promise<void>> = []
    try {
      for await (const chunk of chunksOf(data)) {
        if (signal?.aborted === true) throw abortError(signal)
        const h = newHasher()
        h.update(chunk)
        chunkHashes.push(h.digest())
        whole.update(chunk)
        const written = cache.writeChunk(key, chunkHashes.length - 1, chunk)
        written.catch(() => {}) // awaited below; this only keeps it from being "unhandled" meanwhile
        writing.push(written)
        if (writing.length >= WRITES_IN_FLIGHT) await writing.shift()
        size += chunk.length
        this.progress(opts.onProgress, { direction: 'put', phase: 'store', loaded: size, total: knownSize })
      }
      await Promise.all(writing)
    } catch (e) {
      await Promise.allSettled(writing)
      await cache.delete(key).catch(() => {})
      throw e
    }
    const hashBytes = whole.digest()
    const ref: BlobRef = {
      hash: hashRef(hashBytes) as `sha256:${string}`,
      size,
      mimeType: declared !== '' ? declared : 'application/octet-stream',
      filename,
      chunkCount: chunkHashes.length
    }
    const all = new Uint8Array(chunkHashes.length * 32)
    chunkHashes.forEach((h, i) => all.set(h, i * 32))
    await cache.complete(key, ref.hash, { size, mimeType: ref.mimeType, filename, chunkCount: ref.chunkCount, chunkHashes: all })

    // 2. Upload (bytes in memory are sent from memory, anything else from the cache).
    const direct = kind === 'bytes' ? randomAccess(data) : null
    const readChunk = direct !== null
      ? (i: number) => direct(i, size)
      : (i: number) => cache.readChunk(ref.hash, i, chunkLength(size, i))
    let acked = 0
    for (let attempt = 1; ; attempt++) {
      const sock = this.liveSocket()
      await sock.whenOpen(signal)
      try {
        await upload(sock, { hash: hashBytes, size, mimeType: declared, filename, chunkHashes, readChunk }, {
          idleMs: this.o.idleTimeoutMs ?? 60000,
          signal,
          onBytes: (n) => {
            acked = Math.min(size, acked + n)
            this.progress(opts.onProgress, { hash: ref.hash, direction: 'put', phase: 'upload', loaded: acked, total: size })
          }
        })
        break
      } catch (e) {
        if (signal?.aborted === true) throw abortError(signal)
        const retry = e instanceof BlobSyncError && e.retryable && attempt < 20 && !this.destroyed
        if (!retry) throw new BlobSyncError((e as BlobSyncError).code ?? 'ERROR', `putBlob ${ref.hash} to ${this.url}: ${(e as Error).message}`)
        // The socket reconnects by itself; BUSY: the server may not have seen the old connection end yet.
        await sleep(Math.min(100 * 2 ** attempt, 5000), signal)
      }
    }
    // The server announced itself before DONE, but the registry update may
    // still be on its way: wait (briefly) so this doc lists a holder on return.
    await this.whenListed(ref.hash, 10000)
    this.progress(opts.onProgress, { hash: ref.hash, direction: 'put', phase: 'upload', loaded: size, total: size })
    return ref
  }

  private whenListed (hash: string, ms: number): Promise<void> {
    if (this.holdersOf(hash).length > 0) return Promise.resolve()
    const map = this.doc.getMap(REGISTRY)
    return new Promise(resolve => {
      const check = (): void => { if (this.holdersOf(hash).length > 0) finish() }
      const finish = (): void => { clearTimeout(timer); map.unobserve(check); resolve() }
      const timer = setTimeout(finish, ms)
      map.observe(check)
    })
  }

  /** The holders the room's registry lists for `hash` (empty: none). */
  holdersOf (hash: string): string[] {
    const v = this.doc.getMap(REGISTRY).get(hash) as { holders?: unknown } | undefined
    const holders = v !== null && typeof v === 'object' && Array.isArray(v.holders) ? v.holders : []
    return holders.filter((h): h is string => typeof h === 'string')
  }

  /**
   * The blob, from the cache or else from its holders (into the cache, chunk
   * by chunk). null when the room's registry lists no holder; rejects with a
   * BlobFetchError naming each holder tried when none delivered.
   */
  async getBlob (hash: string, opts: GetOptions = {}): Promise<Blob | null> {
    if (!(await this.fetch(hash, opts))) return null
    const { cache } = await this.ready
    const file = await cache.blob?.(hash)
    if (file !== null && file !== undefined) return file
    const b = (await cache.stat(hash))!
    const parts: Uint8Array[] = []
    for (let i = 0; i < b.chunkCount; i++) parts.push(await cache.readChunk(hash, i, chunkLength(b.size, i)))
    return new Blob(parts as BlobPart[], { type: b.mimeType })
  }

  /** Like getBlob, as a stream read chunk by chunk from the cache (any Node from 18, and browsers). */
  async getBlobStream (hash: string, opts: GetOptions = {}): Promise<ReadableStream<Uint8Array> | null> {
    if (!(await this.fetch(hash, opts))) return null
    const { cache } = await this.ready
    const b = (await cache.stat(hash))!
    let i = 0
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (i >= b.chunkCount) { controller.close(); return }
        controller.enqueue(await cache.readChunk(hash, i, chunkLength(b.size, i)))
        i++
      }
    }, { highWaterMark: 1 })
  }

  // Makes the blob complete in the cache; false when no holder is listed.
  private async fetch (hash: string, opts: GetOptions): Promise<boolean> {
    const hashBytes = parseHashRef(hash)
    const { cache } = await this.ready
    if (await cache.stat(hash) !== null) return true
    this.liveSocket()
    // The registry is part of the document: wait for its first sync.
    await withSignal(this.whenSynced, opts.signal)
    if (this.holdersOf(hash).length === 0) return false
    // Concurrent gets of one blob share the transfer (one writer per cache key).
    let p = this.fetches.get(hash)
    if (p === undefined) {
      p = this.fetchFromHolders(hash, hashBytes, opts).finally(() => this.fetches.delete(hash))
      this.fetches.set(hash, p)
    }
    await p
    return true
  }

  private async fetchFromHolders (hash: string, hashBytes: Uint8Array, opts: GetOptions): Promise<void> {
    const { cache, newHasher } = await this.ready
    const signal = opts.signal
    const partial = await cache.openPartial(hash)
    const st: DownloadState = {
      key: hash,
      hash: hashBytes,
      info: partial?.info ?? null,
      present: partial?.present ?? new Uint8Array(0),
      inCache: partial !== null,
      running: null,
      hashedUpTo: 0
    }
    // Chunk 0 still missing: hash the chunks as they arrive in order, so the
    // blob check needs no re-read (verifyWhole re-reads the cache otherwise).
    if (st.info === null || missingRanges(st.present, st.info.chunkCount).some(([f]) => f === 0)) {
      st.running = newHasher()
    }
    if (st.info !== null && st.present.length < bitmapBytes(st.info.chunkCount)) {
      const bits = new Uint8Array(bitmapBytes(st.info.chunkCount))
      bits.set(st.present)
      st.present = bits
    }
    const presentBytes = (): number => {
      if (st.info === null) return 0
      let n = 0
      for (let i = 0; i < st.info.chunkCount; i++) if (((st.present[i >> 3] >> (i & 7)) & 1) === 1) n += chunkLength(st.info.size, i)
      return n
    }
    let loaded = presentBytes()
    const self = canonicalUrl(this.url)
    const attempts: HolderAttempt[] = []
    const rounds = this.o.rounds ?? 3
    let backoff = this.o.roundBackoffMs ?? 1000
    for (let round = 1; round <= rounds; round++) {
      if (round > 1) { await sleep(backoff, signal); backoff *= 2 }
      const listed = shuffle(this.holdersOf(hash))
      for (const pref of [...(opts.preferHolders ?? [])].reverse()) {
        const at = listed.findIndex(h => canonicalUrl(h) === canonicalUrl(pref))
        if (at >= 0) listed.unshift(...listed.splice(at, 1))
      }
      // The connected server last: it may hold the blob, or fetch it from a peer for us.
      // Each holder once, and at most MAX_HOLDERS: anyone who may write the room writes this list.
      const seen = new Set([self])
      const order = listed.filter(h => !seen.has(canonicalUrl(h)) && seen.add(canonicalUrl(h)) !== undefined).slice(0, MAX_HOLDERS)
      order.push(this.url)
      for (const holder of order) {
        if (signal?.aborted === true) throw abortError(signal)
        if (this.destroyed) throw new Error('the provider was destroyed')
        try {
          await this.fetchFrom(holder, canonicalUrl(holder) === self, st, {
            idleMs: this.o.idleTimeoutMs ?? 30000,
            signal,
            onBytes: (n) => {
              loaded += n
              this.progress(opts.onProgress, { hash, direction: 'get', phase: 'download', loaded, total: st.info?.size })
            }
          })
        } catch (e) {
          if (aborted(signal)) throw abortError(signal!)
          attempts.push({ holder, round, error: (e as Error).message })
          this.emit('holder-failed', [{ hash, holder, round, error: (e as Error).message }])
          continue
        }
        if (await verifyWhole(st, cache, newHasher)) {
          const info = st.info!
          const done: CachedBlob = { ...info, filename: '' }
          await cache.complete(hash, hash, done)
          return
        }
        // Every chunk matched the hashes the holders sent, but not the blob: those hashes were lies. Start over.
        const lie = 'the chunks matched the holder\'s chunk hashes but not the blob hash (a lying holder); discarded'
        attempts.push({ holder, round, error: lie })
        this.emit('holder-failed', [{ hash, holder, round, error: lie }])
        await cache.delete(hash)
        Object.assign(st, { info: null, present: new Uint8Array(0), inCache: false, running: newHasher(), hashedUpTo: 0 })
        loaded = 0
      }
    }
    throw new BlobFetchError(hash, attempts, rounds)
  }

  private async fetchFrom (holder: string, isSelf: boolean, st: DownloadState,
    t: { idleMs: number, signal?: AbortSignal, onBytes: (n: number) => void }): Promise<void> {
    const { cache, newHasher, WS } = await this.ready
    if (!/^wss?:\/\//.test(holder)) throw new Error('not a ws:// or wss:// URL')
    const timeout = async <T>(p: Promise<T>): Promise<T> => {
      let timer: ReturnType<typeof setTimeout> | undefined
      try {
        return await Promise.race([p, new Promise<T>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS)
        })])
      } finally { clearTimeout(timer) }
    }
    if (isSelf) {
      const sock = this.liveSocket()
      await timeout(sock.whenOpen(t.signal))
      await download(sock, st, cache, newHasher, t)
      return
    }
    const sock = new RoomSocket({ url: this.roomUrl(holder.replace(/\/+$/, '')), WebSocket: WS, reconnect: false })
    this.holderSockets.add(sock)
    try {
      await timeout(sock.whenOpen(t.signal))
      await download(sock, st, cache, newHasher, t)
    } finally {
      this.holderSockets.delete(sock)
      sock.destroy()
    }
  }

  /** Disconnects and stops reconnecting; transfers in progress reject. */
  override destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.socket?.destroy()
    for (const s of this.holderSockets) s.destroy()
    // An Awareness runs a timer; ours ends with the provider, a caller's stays theirs.
    if (this.o.awareness === undefined) this.awareness.destroy()
    this.ready.then(({ cache }) => cache.close?.()).catch(() => {})
    super.destroy()
  }
}

/** Creates a provider (see BlobSyncProviderOptions); it connects at once. */
export function createBlobSyncProvider (options: BlobSyncProviderOptions): BlobSyncProvider {
  return new BlobSyncProvider(options)
}

export { CHUNK_SIZE, chunkCountOf }
