// Shared helpers of the @blobsync/client Node tests: real `blobsync serve`
// processes ($BLOBSYNC_BIN, through the interop suite's Server), providers
// made from the built package (dist/), a TCP proxy that counts and cuts
// traffic, and test data.
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawn } from 'node:child_process'
// One yjs: the package's own (its peer dependency, installed in clients/js/node_modules).
import * as Y from 'yjs'
import WebSocket from 'ws'
import { createBlobSyncProvider, FsBlobCache } from '../dist/node.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repo = path.resolve(here, '../../..')
export { Y, WebSocket, createBlobSyncProvider, FsBlobCache }

// `blobsync serve` on a loopback port (0: any), store in dataDir; flags are
// serve's own (config keys, docs/http.md). Not the interop harness: that one
// loads a second yjs (tests/node_modules) into this process.
export class Server {
  constructor (dataDir, args = []) { this.dataDir = dataDir; this.args = args; this.proc = null }
  // A fixed port (a restart, a mesh) may be held for a moment by another
  // test's outgoing connection: retried for up to 5 s.
  async start (port = 0) {
    for (let attempt = 0; ; attempt++) {
      try { return await this.startOnce(port) } catch (e) {
        if (port === 0 || attempt >= 50 || !/Address already in use/.test(e.message)) throw e
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  }

  async startOnce (port) {
    const bin = process.env.BLOBSYNC_BIN || path.join(repo, 'build/release/src/cli/blobsync')
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data', this.dataDir, '--access-log', 'off',
      '--sync-fsync', 'false', ...this.args]
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { BLOBSYNC_MAX_CONNECTIONS_PER_IP: '20000', ...process.env } })
    this.stderr = ''
    this.proc.stderr.on('data', d => { this.stderr += d; if (process.env.JS_TEST_VERBOSE) process.stderr.write(d) })
    this.exited = new Promise(resolve => this.proc.on('exit', (code, signal) => resolve({ code, signal })))
    const addr = await new Promise((resolve, reject) => {
      let out = ''
      this.proc.stdout.on('data', d => {
        out += d
        const m = out.match(/listening on (\S+)/)
        if (m) resolve(m[1])
      })
      this.exited.then(e => reject(new Error(`${bin} serve exited early (${JSON.stringify(e)}): ${this.stderr}`)))
    })
    this.port = Number(addr.split(':').pop())
    this.url = `ws://${addr}/sync`
    return this
  }

  alive () { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null }
  async kill (signal = 'SIGKILL') {
    if (!this.alive()) return
    this.proc.kill(signal)
    await this.exited
  }
}

// Polls cond() until true; fails after ms (a safety net, not a timing assertion).
export async function until (cond, what, ms = 30000) {
  const start = Date.now()
  for (;;) {
    if (await cond()) return
    if (Date.now() - start > ms) throw new Error(`timed out waiting for: ${typeof what === "function" ? what() : what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export async function freePorts (n) {
  const socks = []
  for (let i = 0; i < n; i++) {
    const s = net.createServer()
    await new Promise(resolve => s.listen(0, '127.0.0.1', resolve))
    socks.push(s)
  }
  const ports = socks.map(s => s.address().port)
  await Promise.all(socks.map(s => new Promise(resolve => s.close(resolve))))
  return ports
}

export const CHUNK = 262144

// Every server and provider a test made, for cleanup (servers get their stderr printed on failure).
export function scope (t) {
  const servers = []
  const providers = []
  const dirs = []
  t.after(async () => {
    for (const p of providers) p.destroy()
    for (const s of servers) await s.kill('SIGKILL')
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  })
  return {
    servers,
    async server (args = [], port = 0) {
      const s = new Server(this.dir(), args)
      servers.push(s)
      await s.start(port)
      return s
    },
    // n servers, each with every other as a peer.
    async mesh (n, args = () => []) {
      const ports = await freePorts(n)
      const url = p => `ws://127.0.0.1:${p}/sync`
      return Promise.all(ports.map((port, i) => this.server([
        '--mesh-link-backoff-max', '1000ms', '--mesh-rescan-interval', '1000ms',
        ...ports.filter((_, j) => j !== i).flatMap(p => ['--peer', url(p)]), ...args(i)], port)))
    },
    provider (url, room, opts = {}) {
      const cacheDir = opts.cacheDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-js-cache-'))
      dirs.push(cacheDir)
      const doc = opts.doc ?? new Y.Doc()
      const p = createBlobSyncProvider({ url, room, doc, cacheDir, WebSocketPolyfill: WebSocket, roundBackoffMs: 100, ...opts })
      providers.push(p)
      return p
    },
    dir () {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-js-'))
      dirs.push(d)
      return d
    }
  }
}

export const sha256hex = b => crypto.createHash('sha256').update(b).digest('hex')
export const randomBytes = n => new Uint8Array(crypto.randomBytes(n))

export async function blobBytes (blob) { return new Uint8Array(await blob.arrayBuffer()) }

// A TCP proxy to `target` (port) that counts the bytes each way and can cut
// every connection once a direction has carried `cutAfter` bytes (once).
export async function proxy (targetPort) {
  const p = { up: 0, down: 0, conns: new Set(), cut: null, cuts: 0 }
  const check = () => {
    if (p.cut === null) return
    const n = p.cut.dir === 'up' ? p.up : p.down
    if (n >= p.cut.after) { p.cut = null; p.cuts++; p.dropAll() }
  }
  p.dropAll = () => { for (const [a, b] of p.conns) { a.destroy(); b.destroy() } p.conns.clear() }
  p.server = net.createServer(client => {
    const upstream = net.connect(targetPort, '127.0.0.1')
    const pair = [client, upstream]
    p.conns.add(pair)
    client.on('data', d => { p.up += d.length; if (!upstream.write(d)) client.pause(); check() })
    upstream.on('drain', () => client.resume())
    upstream.on('data', d => { p.down += d.length; if (!client.write(d)) upstream.pause(); check() })
    client.on('drain', () => upstream.resume())
    const end = () => { client.destroy(); upstream.destroy(); p.conns.delete(pair) }
    client.on('error', end); upstream.on('error', end); client.on('close', end); upstream.on('close', end)
  })
  await new Promise(resolve => p.server.listen(0, '127.0.0.1', resolve))
  p.port = p.server.address().port
  p.url = `ws://127.0.0.1:${p.port}/sync`
  p.cutAfter = (dir, after) => { p.cut = { dir, after } }
  p.close = () => { p.dropAll(); p.server.close() }
  return p
}

// A fake holder: a WebSocket server that answers every REQUEST for `blob`
// (Uint8Array) with a META and chunks that are wrong. mode 'bad-chunk': the
// META carries the true chunk hashes and chunk 0 is corrupted; mode 'lie':
// every chunk is corrupted and the META carries the hashes of the corrupted
// chunks (only the blob hash can catch it); mode 'huge': a META claiming 4 PiB.
export async function fakeHolder (blob, mode = 'bad-chunk') {
  const { encoding, decoding, msgs } = await protocolModules()
  const { WebSocketServer } = await import('ws')
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise(resolve => wss.on('listening', resolve))
  const f = { requests: 0, url: `ws://127.0.0.1:${wss.address().port}/sync`, close: () => wss.close() }
  const chunks = []
  for (let o = 0; o < blob.length; o += CHUNK) chunks.push(blob.slice(o, Math.min(o + CHUNK, blob.length)))
  const bad = chunks.map((c, i) => { const x = c.slice(); if (mode === 'lie' || i === 0) x[0] ^= 0xff; return x })
  const metaHashes = (mode === 'lie' ? bad : chunks).map(c => crypto.createHash('sha256').update(c).digest())
  wss.on('connection', ws => ws.on('message', data => {
    const d = decoding.createDecoder(new Uint8Array(data))
    if (decoding.readVarUint(d) !== msgs.MsgType.REQUEST) return
    f.requests++
    const req = decoding.readVarUint(d)
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, msgs.MsgType.META); encoding.writeVarUint(e, req)
    if (mode === 'huge') {
      // 2^52 bytes (2^34 chunks) with one chunk hash: must be refused before anything is allocated.
      encoding.writeVarUint(e, 2 ** 52); encoding.writeVarString(e, 'application/octet-stream')
      encoding.writeVarUint(e, 2 ** 34); encoding.writeVarUint(e, 1)
      encoding.writeUint8Array(e, metaHashes[0])
      return ws.send(encoding.toUint8Array(e))
    }
    encoding.writeVarUint(e, blob.length); encoding.writeVarString(e, 'application/octet-stream')
    encoding.writeVarUint(e, chunks.length); encoding.writeVarUint(e, chunks.length)
    for (const h of metaHashes) encoding.writeUint8Array(e, h)
    ws.send(encoding.toUint8Array(e))
    bad.forEach((c, i) => ws.send(msgs.encodeChunk(req, i, c)))
    const done = encoding.createEncoder()
    encoding.writeVarUint(done, msgs.MsgType.DONE); encoding.writeVarUint(done, req)
    encoding.writeUint8Array(done, crypto.createHash('sha256').update(blob).digest())
    ws.send(encoding.toUint8Array(done))
  }))
  return f
}

async function protocolModules () {
  return {
    encoding: await import('lib0/encoding'),
    decoding: await import('lib0/decoding'),
    msgs: await import('../dist/messages.js')
  }
}

// Lists extra holders for `hash` in the room's registry, through `provider`'s document.
export function listHolders (provider, hash, holders, { size = 0, chunkCount = 0 } = {}) {
  const map = provider.doc.getMap('_blobRegistry')
  const cur = map.get(hash) ?? { holders: [], size, chunkCount }
  map.set(hash, { ...cur, holders: [...holders, ...cur.holders.filter(h => !holders.includes(h))] })
}
