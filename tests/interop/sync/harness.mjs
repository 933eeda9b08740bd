// Test harness for the sync interop tests: starts servers, makes y-websocket
// clients, waits for conditions (never for fixed times).
//
// The server command is $BLOBSYNC_SYNC_BIN (a command line, e.g.
// "/work/main/build/blobsync serve"), default the sync_devserver test binary.
// It is run with `--listen 127.0.0.1:0 --data DIR` plus test flags
// (--token, --read-only-token, --room-idle-ms, --max-blob-bytes,
// --compact-updates, --url) and must print "listening on HOST:PORT".
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

export function serverCommand () {
  const bin = process.env.BLOBSYNC_SYNC_BIN || process.env.SYNC_DEVSERVER ||
    '/work/main/build-sync/tests/sync/sync_devserver'
  return bin.trim().split(/\s+/)
}

export function tmpDir (tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `blobsync-sync-${tag}-`))
}

export class Server {
  constructor (dataDir, args = []) { this.dataDir = dataDir; this.args = args; this.proc = null }
  async start (port = 0) {
    const [cmd, ...pre] = serverCommand()
    const args = [...pre, '--listen', `127.0.0.1:${port}`, '--data', this.dataDir, ...this.args]
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
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
    if (Date.now() - start > ms) throw new Error(`timed out waiting for: ${what}`)
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
    process.exit(0)
  } catch (e) {
    console.error(`not ok - ${name}: ${e.stack || e}`)
    for (const s of servers) { if (s.stderr) console.error(`--- server stderr (${s.addr}) ---\n${s.stderr.slice(-4000)}`) }
    for (const s of servers) await s.kill('SIGKILL')
    process.exit(1)
  }
}
