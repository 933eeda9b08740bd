// Test harness for the sync interop tests: starts servers, makes y-websocket
// clients, waits for conditions (never for fixed times).
//
// The server is the real `blobsync serve` ($BLOBSYNC_SYNC_BIN: the blobsync
// binary, or a command line ending in `serve`), run as
// `serve --listen 127.0.0.1:PORT --data DIR --access-log off ...`. Tests pass
// short test flags (serveArgs below translates them to serve's config flags):
//   --token X, --read-only-token X (repeatable), --room-idle-ms N,
//   --max-blob-bytes N, --compact-updates N, --no-fsync, --url U, --peer U,
//   --replication M, --no-replicate-on-fetch, --link-backoff-max-ms N,
//   --prune-after-ms N, --probe-interval-ms N, --rescan-ms N, --max-fetches N,
//   --peer-token X, --mesh-allow PREFIX (repeatable), --gc-grace D, --gc-interval D,
//   --scrub-rate SIZE, --scrub-interval-ms N, --peer-tokens X,Y, --room-token-secret K,
//   --tokens-not-before T, --require-token true|false, --admin-loopback true|false,
//   --blobs-public true|false.
// Every server gets admin token ADMIN_TOKEN (for DELETE /blobs/<hash>).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(path.join(process.env.NODE_PATH || '/work/main/tests/node_modules', 'x.js'))
export const Y = require('yjs')
export const { WebsocketProvider } = require('y-websocket')
export const WebSocket = require('ws')
export const encoding = require('lib0/dist/encoding.cjs')
export const decoding = require('lib0/dist/decoding.cjs')

export const ADMIN_TOKEN = 'test-admin-token'

export function serverCommand () {
  const bin = process.env.BLOBSYNC_SYNC_BIN || '/work/main/build-syncperf/src/cli/blobsync'
  const cmd = bin.trim().split(/\s+/)
  return cmd[cmd.length - 1] === 'serve' ? cmd : [...cmd, 'serve']
}

// Test flags -> `blobsync serve` flags (config keys, docs/http.md).
export function serveArgs (args) {
  const out = ['--access-log', 'off', '--admin-token', ADMIN_TOKEN, '--max-connections', '20000']
  const tokens = []
  const roTokens = []
  const ms = v => `${Number(v)}ms`
  const map = {
    '--room-idle-ms': v => ['--room-idle-timeout', ms(v)],
    '--max-blob-bytes': v => ['--max-upload-bytes', v],
    '--compact-updates': v => ['--sync-compact-updates', v],
    '--url': v => ['--url', v],
    '--peer': v => ['--peer', v],
    '--replication': v => ['--replication', v],
    '--link-backoff-max-ms': v => ['--mesh-link-backoff-max', ms(v)],
    '--prune-after-ms': v => ['--mesh-prune-after', ms(v)],
    '--probe-interval-ms': v => ['--mesh-probe-interval', ms(v)],
    '--rescan-ms': v => ['--mesh-rescan-interval', ms(v)],
    '--max-fetches': v => ['--mesh-max-fetches', v],
    '--peer-token': v => ['--peer-token', v],
    '--gc-grace': v => ['--gc-grace', v],
    '--gc-interval': v => ['--gc-interval', v],
    '--scrub-rate': v => ['--scrub-rate', v],
    '--scrub-interval-ms': v => ['--scrub-interval', ms(v)],
    '--peer-tokens': v => ['--peer-tokens', v],
    '--room-token-secret': v => ['--room-token-secret', v],
    '--tokens-not-before': v => ['--tokens-not-before', v],
    '--require-token': v => ['--sync-require-token', v],
    '--admin-loopback': v => ['--admin-loopback', v],
    '--blobs-public': v => ['--blobs-public', v]
  }
  const allow = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--no-fsync') out.push('--sync-fsync', 'false')
    else if (a === '--no-replicate-on-fetch') out.push('--replicate-on-fetch', 'false')
    else if (a === '--token') tokens.push(args[++i])
    else if (a === '--read-only-token') roTokens.push(args[++i])
    else if (a === '--mesh-allow') allow.push(args[++i])
    else if (map[a]) out.push(...map[a](args[++i]))
    else throw new Error(`harness: unknown test flag ${a}`)
  }
  if (tokens.length) out.push('--sync-tokens', tokens.join(','))
  if (roTokens.length) out.push('--sync-read-only-tokens', roTokens.join(','))
  if (allow.length) out.push('--mesh-allow', allow.join(','))
  return out
}

export function tmpDir (tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `blobsync-sync-${tag}-`))
}

export class Server {
  // env: extra environment variables for the server process.
  constructor (dataDir, args = [], { env = {} } = {}) { this.dataDir = dataDir; this.args = args; this.env = env; this.proc = null }
  async start (port = 0) {
    const [cmd, ...pre] = serverCommand()
    const args = [...pre, '--listen', `127.0.0.1:${port}`, '--data', this.dataDir, ...serveArgs(this.args)]
    // Every test client is on loopback: one address for all of them.
    const env = { BLOBSYNC_MAX_CONNECTIONS_PER_IP: '20000', BLOBSYNC_SYNC_MAX_NEW_ROOMS_PER_ADDRESS: '0',
      BLOBSYNC_CREATE_ACCOUNT_RATE_ADDRESS: 'off', ...process.env, ...this.env }
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    this.stderr = ''
    this.proc.stderr.on('data', d => { this.stderr += d; if (process.env.SYNC_TEST_VERBOSE) process.stderr.write(d) })
    this.exited = new Promise(resolve => this.proc.on('exit', (code, signal) => resolve({ code, signal })))
    const addr = await new Promise((resolve, reject) => {
      let out = ''
      this.proc.stdout.on('data', d => {
        out += d
        const m = out.match(/listening on (\S+)/)
        if (m) resolve(m[1])
      })
      this.exited.then(e => reject(new Error(`server exited early (${JSON.stringify(e)}): ${this.stderr}`)))
    })
    this.addr = addr
    this.port = Number(addr.split(':').pop())
    this.url = `ws://${addr}/sync`
    return this
  }
  alive () { return this.proc && this.proc.exitCode === null && this.proc.signalCode === null }
  async kill (signal = 'SIGKILL') {
    if (!this.alive()) return
    this.proc.kill(signal)
    await this.exited
  }
  async restart () { const port = this.port; await this.kill('SIGKILL'); return this.start(port) }
  pid () { return this.proc.pid }
}

export function client (url, room, { params = {}, doc = new Y.Doc(), awareness } = {}) {
  const provider = new WebsocketProvider(url, room, doc, {
    WebSocketPolyfill: WebSocket, disableBc: true, params, awareness
  })
  const synced = new Promise(resolve => {
    if (provider.synced) resolve()
    provider.on('sync', s => { if (s) resolve() })
  })
  return { doc, provider, synced, destroy: () => { provider.destroy(); doc.destroy() } }
}

// Polls cond() until it is true; fails after `ms` (a safety net, not a timing assertion).
export async function until (cond, what, ms = 60000) {
  const start = Date.now()
  for (;;) {
    if (await cond()) return
    if (Date.now() - start > ms) throw new Error(`timed out waiting for: ${typeof what === "function" ? what() : what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

export function assert (cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg) }

// A raw WebSocket to a room that records every message.
export async function rawSocket (url, room, { headers, query = '' } = {}) {
  const ws = new WebSocket(`${url}/${room}${query}`, { headers })
  ws.binaryType = 'nodebuffer'
  const got = []
  const waiters = []
  ws.on('message', data => {
    got.push(Buffer.from(data))
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise(resolve => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  return {
    ws, got, closed,
    send: bytes => ws.send(Buffer.from(bytes)),
    // Waits for a message matching pred that arrived after index `from`.
    async next (pred, from = 0, what = 'message') {
      await until(() => got.slice(from).some(pred), what, 30000)
      return got.slice(from).find(pred)
    }
  }
}

export async function main (name, fn) {
  const servers = []
  try {
    await fn(servers)
    console.log(`ok - ${name}`)
    for (const s of servers) await s.kill('SIGTERM')
    // A passing test leaves no data behind (a 1 GiB test's store is 1 GiB);
    // a failing one keeps it to be looked at.
    for (const s of servers) {
      if (s.dataDir && path.resolve(s.dataDir).startsWith(os.tmpdir() + path.sep)) fs.rmSync(s.dataDir, { recursive: true, force: true })
    }
    process.exit(0)
  } catch (e) {
    console.error(`not ok - ${name}: ${e.stack || e}`)
    for (const s of servers) { if (s.stderr) console.error(`--- server stderr (${s.addr}) ---\n${s.stderr.slice(-4000)}`) }
    for (const s of servers) await s.kill('SIGKILL')
    process.exit(1)
  }
}
