// Helpers of the client-side TLS tests (integration.mesh.tls,
// integration.cli.tls_client): test certificates made now with openssl
// (make_certs.sh and make_peer_certs.sh), `blobsync serve` with tls_cert/tls_key on a loopback
// port, and HTTPS GETs that trust a given CA. Node modules only: no npm
// package is needed here.
// Helpers only (no test of their own): the assertions are in
// tests/interop/mesh/tls.test.mjs and tests/cli/tls_client.test.mjs.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

// Temporary directories, removed when the process exits.
const made = []
process.on('exit', () => { for (const d of made) fs.rmSync(d, { recursive: true, force: true }) })
export function tmpDir (tag) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `blobsync-tls-${tag}-`))
  made.push(d)
  return d
}

// DIR/ca.pem, DIR/server.pem/.key (make_certs.sh), DIR/<name>.pem/.key for
// each name (signed by ca.pem), and DIR/rogue.pem/.key signed by the
// unrelated DIR/other-ca.pem.
export function makeCerts (dir, names) {
  const r = spawnSync(path.join(here, 'make_peer_certs.sh'), [dir, ...names], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`make_peer_certs.sh failed: ${r.stderr}`)
  const f = n => path.join(dir, n)
  const out = { dir, ca: f('ca.pem'), otherCa: f('other-ca.pem') }
  for (const n of ['server', 'rogue', ...names]) out[n] = { cert: f(`${n}.pem`), key: f(`${n}.key`) }
  return out
}

// `blobsync serve` over TLS on listenHost:port (default 127.0.0.1, any port). extra: more serve
// flags. The returned server's url is its wss:// sync URL.
export async function startTlsServer (bin, { cert, key, port = 0, extra = [], tag = 'srv', listenHost = '127.0.0.1' }) {
  const dataDir = tmpDir(tag)
  const args = ['serve', '--listen', `${listenHost}:${port}`, '--data', dataDir, '--access-log', 'off',
    '--sync-fsync', 'false', '--tls-cert', cert, '--tls-key', key, ...extra]
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const s = { proc, dataDir, stderr: '' }
  proc.stderr.on('data', d => { s.stderr += d; if (process.env.TLS_TEST_VERBOSE) process.stderr.write(d) })
  s.exited = new Promise(resolve => proc.on('exit', (code, signal) => resolve({ code, signal })))
  s.addr = await new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', d => {
      out += d
      const m = out.match(/listening on (\S+)/)
      if (m) resolve(m[1])
    })
    s.exited.then(e => reject(new Error(`server exited early (${JSON.stringify(e)}): ${s.stderr}`)))
  })
  s.port = Number(s.addr.split(':').pop())
  s.url = `wss://${s.addr}/sync`
  s.https = `https://${s.addr}`
  s.alive = () => proc.exitCode === null && proc.signalCode === null
  s.stop = async (signal = 'SIGTERM') => { if (s.alive()) { proc.kill(signal); await s.exited } }
  return s
}

// GET over HTTPS trusting `ca` (a PEM file). Resolves { status, body }.
export function httpsGet (url, { ca, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    https.get(url, { ca: fs.readFileSync(ca), headers }, res => {
      const chunks = []
      res.on('data', d => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }))
    }).on('error', reject)
  })
}

// A `ws` WebSocket class that trusts `ca`, for y-websocket's WebSocketPolyfill.
export function trustingWebSocket (WebSocket, ca) {
  const pem = fs.readFileSync(ca)
  return class extends WebSocket {
    constructor (url, protocols) { super(url, protocols, { ca: pem }) }
  }
}

export async function until (cond, what, ms = 60000) {
  const start = Date.now()
  for (;;) {
    if (await cond()) return
    if (Date.now() - start > ms) throw new Error(`timed out waiting for: ${typeof what === 'function' ? what() : what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
