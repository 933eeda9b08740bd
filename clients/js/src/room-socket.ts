// RoomSocket: one WebSocket to `<server>/sync/<room>`. With a doc it keeps the
// Y.Doc and awareness in sync exactly as y-websocket does (message types 0-3,
// y-protocols) and reconnects with the same backoff; it also multiplexes the
// blob channel (types 10-20): each blob request registers a handler under
// its request id (odd: this side opened the connection).
// Without a doc it is a blob-only connection to a holder (no reconnect):
// the server's Yjs greeting is read and ignored.
// Thread safety: single-threaded (an event loop); handlers run on it.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as authProtocol from 'y-protocols/auth'
import { type BlobMessage, decodeBlobMessage } from './messages.js'

/** The part of the WebSocket API (browsers, `ws`) this client uses. */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  readonly bufferedAmount: number
  send (data: Uint8Array): void
  close (code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number, reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Receives the blob messages of one request, and the end of the connection. */
export interface BlobHandler {
  message (m: BlobMessage): void
  closed (reason: string): void
}

export interface RoomSocketOptions {
  url: string // full URL: base + '/' + room (+ ?token=)
  WebSocket: WebSocketConstructor
  doc?: Y.Doc
  awareness?: awarenessProtocol.Awareness
  reconnect: boolean
  maxBackoffMs?: number
  onStatus?: (status: 'connecting' | 'connected' | 'disconnected') => void
  onSynced?: (synced: boolean) => void
  // A close the server meant as final (4401/4403: no valid token for this room).
  onRefused?: (err: Error) => void
}

const MESSAGE_TIMEOUT_MS = 30000 // the server sends something every 15 s

export class RoomSocket {
  ws: WebSocketLike | null = null
  connected = false
  synced = false
  destroyed = false
  refused: Error | null = null
  private nextReq = 1
  private readonly handlers = new Map<number, BlobHandler>()
  private openWaiters: Array<{ resolve: () => void, reject: (e: Error) => void }> = []
  private failures = 0
  private lastMessage = 0
  private timer: ReturnType<typeof setInterval> | null = null
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private lastError = ''

  constructor (private readonly o: RoomSocketOptions) {
    const { doc, awareness } = o
    if (doc !== undefined) {
      doc.on('update', this.onDocUpdate)
      awareness?.on('update', this.onAwarenessUpdate)
    }
    this.connect()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this) return
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0)
    syncProtocol.writeUpdate(e, update)
    this.sendRaw(encoding.toUint8Array(e))
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }): void => {
    const changed = added.concat(updated).concat(removed)
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.o.awareness!, changed))
    this.sendRaw(encoding.toUint8Array(e))
  }

  private connect (): void {
    if (this.destroyed || this.refused !== null) return
    this.o.onStatus?.('connecting')
    let ws: WebSocketLike
    try {
      ws = new this.o.WebSocket(this.o.url)
    } catch (e) {
      this.lastError = (e as Error).message
      this.afterClose(`cannot connect: ${this.lastError}`)
      return
    }
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    ws.onerror = (ev) => {
      const err = (ev as { error?: Error, message?: string })
      this.lastError = err.error?.message ?? err.message ?? 'WebSocket error'
    }
    ws.onopen = () => {
      if (this.ws !== ws) return
      this.connected = true
      this.failures = 0
      this.lastMessage = Date.now()
      this.o.onStatus?.('connected')
      const { doc, awareness } = this.o
      if (doc !== undefined) {
        const e = encoding.createEncoder()
        encoding.writeVarUint(e, 0)
        syncProtocol.writeSyncStep1(e, doc)
        this.sendRaw(encoding.toUint8Array(e))
        if (awareness !== undefined && awareness.getLocalState() !== null) {
          const a = encoding.createEncoder()
          encoding.writeVarUint(a, 1)
          encoding.writeVarUint8Array(a, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]))
          this.sendRaw(encoding.toUint8Array(a))
        }
      }
      this.timer = setInterval(() => {
        if (this.connected && Date.now() - this.lastMessage > MESSAGE_TIMEOUT_MS) ws.close()
      }, MESSAGE_TIMEOUT_MS / 10)
      for (const w of this.openWaiters.splice(0)) w.resolve()
    }
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return
      this.lastMessage = Date.now()
      const data = ev.data
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null
      if (bytes === null || bytes.length === 0) return
      if (bytes[0] >= 10) this.onBlobMessage(bytes)
      else this.onYjsMessage(bytes)
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      if (ev.code === 4401 || ev.code === 4403) {
        this.refused = new Error(`the server refused the connection to ${this.o.url.replace(/\?.*/, '')} (${ev.code}: ${ev.reason || 'no valid token for this room'})`)
        this.o.onRefused?.(this.refused)
      }
      this.afterClose(this.refused?.message ?? (this.connected ? `connection closed (${ev.code})` : `cannot connect${this.lastError !== '' ? ': ' + this.lastError : ''} (${ev.code})`))
    }
  }

  private afterClose (reason: string): void {
    const wasConnected = this.connected
    this.ws = null
    this.connected = false
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    for (const [, h] of this.handlers) h.closed(reason)
    this.handlers.clear()
    const { doc, awareness } = this.o
    if (doc !== undefined && awareness !== undefined) {
      const others = Array.from(awareness.getStates().keys()).filter(c => c !== doc.clientID)
      awarenessProtocol.removeAwarenessStates(awareness, others, this)
    }
    if (this.synced) { this.synced = false; this.o.onSynced?.(false) }
    if (wasConnected || this.failures === 0) this.o.onStatus?.('disconnected')
    if (!this.o.reconnect || this.destroyed || this.refused !== null) {
      const err = this.refused ?? new Error(reason)
      for (const w of this.openWaiters.splice(0)) w.reject(err)
      return
    }
    // y-websocket's backoff: 100 ms doubling, at most maxBackoffMs (2.5 s).
    const delay = Math.min(2 ** this.failures * 100, this.o.maxBackoffMs ?? 2500)
    this.failures++
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.connect() }, delay)
  }

  private onYjsMessage (bytes: Uint8Array): void {
    const { doc, awareness } = this.o
    if (doc === undefined) return // a blob-only connection: the greeting is not ours
    const d = decoding.createDecoder(bytes)
    const e = encoding.createEncoder()
    try {
      const type = decoding.readVarUint(d)
      if (type === 0) {
        encoding.writeVarUint(e, 0)
        const sub = syncProtocol.readSyncMessage(d, e, doc, this)
        if (sub === syncProtocol.messageYjsSyncStep2 && !this.synced) {
          this.synced = true
          this.o.onSynced?.(true)
        }
      } else if (type === 1 && awareness !== undefined) {
        awarenessProtocol.applyAwarenessUpdate(awareness, decoding.readVarUint8Array(d), this)
      } else if (type === 2) {
        authProtocol.readAuthMessage(d, doc, (_doc, reason) => console.warn(`@blobsync/client: ${this.o.url.replace(/\?.*/, '')}: ${reason}`))
      } else if (type === 3 && awareness !== undefined) {
        encoding.writeVarUint(e, 1)
        encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, Array.from(awareness.getStates().keys())))
      }
    } catch (err) {
      console.warn(`@blobsync/client: a malformed Yjs message from the server was dropped: ${(err as Error).message}`)
      return
    }
    if (encoding.length(e) > 1) this.sendRaw(encoding.toUint8Array(e))
  }

  private onBlobMessage (bytes: Uint8Array): void {
    let m: BlobMessage
    try { m = decodeBlobMessage(bytes) } catch { return } // a reply we cannot read belongs to no request
    // Replies for ended requests (chunks in flight after a CANCEL) are dropped.
    this.handlers.get(m.req)?.message(m)
  }

  /** Sends one frame if the socket is open (Yjs state is resent on reconnect). */
  sendRaw (bytes: Uint8Array): boolean {
    const ws = this.ws
    if (ws === null || !this.connected || ws.readyState !== 1) return false
    ws.send(bytes)
    return true
  }

  /** Resolves once the socket is open (now or after a reconnect). */
  whenOpen (signal?: AbortSignal): Promise<void> {
    if (this.connected) return Promise.resolve()
    if (this.refused !== null) return Promise.reject(this.refused)
    if (this.destroyed) return Promise.reject(new Error('the provider was destroyed'))
    if (this.ws === null && this.reconnectTimer === null) return Promise.reject(new Error(this.lastError || 'not connected'))
    return new Promise((resolve, reject) => {
      const w = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject: (e: Error) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      }
      const onAbort = (): void => {
        this.openWaiters = this.openWaiters.filter(x => x !== w)
        reject(signal!.reason ?? new Error('aborted'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.openWaiters.push(w)
    })
  }

  /** A new request id with its handler; call `end(req)` when the request is over. */
  begin (handler: BlobHandler): number {
    const req = this.nextReq
    this.nextReq += 2
    this.handlers.set(req, handler)
    return req
  }

  end (req: number): void { this.handlers.delete(req) }

  /** Drops the connection now (a reconnecting socket reconnects). */
  drop (): void { this.ws?.close() }

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer)
    const { doc, awareness } = this.o
    if (doc !== undefined) {
      if (awareness !== undefined && this.connected) {
        awarenessProtocol.removeAwarenessStates(awareness, [doc.clientID], 'local')
      }
      doc.off('update', this.onDocUpdate)
      awareness?.off('update', this.onAwarenessUpdate)
    }
    const ws = this.ws
    if (ws !== null) {
      ws.close()
      this.afterClose('the provider was destroyed')
    } else {
      for (const w of this.openWaiters.splice(0)) w.reject(new Error('the provider was destroyed'))
    }
  }
}
