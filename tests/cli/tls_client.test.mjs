// The CLI's client commands against a server that speaks TLS (issue 21):
// `put`/`get`/`ydoc dump --server wss://...` and `peers --server https://...`
// verify the server against --ca-file (or the system's store, which does not
// know the test CA made here with openssl), fail with the URL and the
// verification error otherwise (exit 1), and with --insecure work and warn
// on stderr every run. The host check covers names (localhost) and IP
// addresses (a certificate for 127.0.0.1 is refused at 127.0.0.2).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { makeCerts, startTlsServer, tmpDir } from '../tls/tls_peers.mjs'

const BIN = process.env.BLOBSYNC_BIN
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary')
const verifyFailed = 'certificate verify failed: unable to get local issuer certificate'
const warning = /WARNING: --insecure: TLS certificates are NOT verified/

let certs, server, work, file, bytes, hex
const servers = []

function cli (args) {
  // A fresh local store each time, so `get` has to fetch.
  const data = fs.mkdtempSync(path.join(work, 'data-'))
  return spawnSync(BIN, ['--data', data, ...args], { encoding: 'utf8', timeout: 60000 })
}

before(async () => {
  work = tmpDir('cli')
  certs = makeCerts(path.join(work, 'certs'), [])
  server = await startTlsServer(BIN, { ...certs.server, tag: 'cli' })
  servers.push(server)
  bytes = crypto.randomBytes(100 * 1024)
  file = path.join(work, 'in.bin')
  fs.writeFileSync(file, bytes)
  hex = crypto.createHash('sha256').update(bytes).digest('hex')
})

after(async () => {
  for (const s of servers) await s.stop()
  fs.rmSync(work, { recursive: true, force: true })
})

test('put and get over wss:// with --ca-file', () => {
  const put = cli(['put', file, '--server', server.url, '--room', 'r', '--ca-file', certs.ca])
  assert.equal(put.status, 0, put.stderr)
  assert.equal(JSON.parse(put.stdout).hash, `sha256:${hex}`)
  assert.equal(put.stderr, '')
  const out = path.join(work, 'got.bin')
  const get = cli(['get', hex, '--server', server.url, '--room', 'r', '--ca-file', certs.ca, '-o', out])
  assert.equal(get.status, 0, get.stderr)
  assert.ok(fs.readFileSync(out).equals(bytes))
  const dump = cli(['ydoc', 'dump', '--server', server.url, '--room', 'r', '--ca-file', certs.ca])
  assert.equal(dump.status, 0, dump.stderr)
  assert.ok(JSON.parse(dump.stdout)._blobRegistry[`sha256:${hex}`], dump.stdout)
})

test('without --ca-file the system store does not know the test CA: refused, naming URL and reason', () => {
  for (const args of [['get', hex, '--room', 'r'], ['put', file, '--room', 'r'], ['ydoc', 'dump', '--room', 'r']]) {
    const r = cli([...args, '--server', server.url])
    assert.equal(r.status, 1, r.stderr)
    assert.ok(r.stderr.includes(server.url.replace('/sync', '')), r.stderr)
    assert.ok(r.stderr.includes(verifyFailed), r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  }
})

test('a CA file from another CA is refused the same way', () => {
  const r = cli(['get', hex, '--server', server.url, '--room', 'r', '--ca-file', certs.otherCa])
  assert.equal(r.status, 1, r.stderr)
  assert.ok(r.stderr.includes(verifyFailed), r.stderr)
})

test('--insecure works and warns on every run', () => {
  for (let i = 0; i < 2; i++) {
    const out = path.join(work, `insecure-${i}.bin`)
    const r = cli(['get', hex, '--server', server.url, '--room', 'r', '--insecure', '-o', out])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, warning)
    assert.ok(fs.readFileSync(out).equals(bytes))
  }
  const both = cli(['get', hex, '--server', server.url, '--room', 'r', '--insecure', '--ca-file', certs.ca])
  assert.equal(both.status, 2, 'usage error: --insecure excludes --ca-file')
})

test('an unreadable CA file is named (a usage error)', () => {
  const r = cli(['get', hex, '--server', server.url, '--room', 'r', '--ca-file', path.join(work, 'missing.pem')])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /TLS CA file .*missing\.pem cannot be read/)
})

test('the host check: localhost by name, and an address the certificate does not list', async () => {
  const byName = cli(['get', hex, '--server', `wss://localhost:${server.port}/sync`, '--room', 'r', '--ca-file', certs.ca,
    '-o', path.join(work, 'byname.bin')])
  assert.equal(byName.status, 0, byName.stderr)
  // The same certificate (127.0.0.1, localhost) served on 127.0.0.2.
  const other = await startTlsServer(BIN, { ...certs.server, tag: 'cli2', listenHost: '127.0.0.2' })
  servers.push(other)
  const r = cli(['get', hex, '--server', other.url, '--room', 'r', '--ca-file', certs.ca])
  assert.equal(r.status, 1, r.stderr)
  assert.ok(r.stderr.includes('certificate verify failed: IP address mismatch'), r.stderr)
})

test('peers over https:// (or its wss:// sync URL) with --ca-file; without it the reason is shown', () => {
  for (const url of [`https://${server.addr}`, server.url]) {
    const ok = cli(['peers', '--server', url, '--ca-file', certs.ca])
    assert.equal(ok.status, 0, ok.stderr)
    assert.ok(Array.isArray(JSON.parse(ok.stdout).peers), ok.stdout)
  }
  const bad = cli(['peers', '--server', `https://${server.addr}`])
  assert.equal(bad.status, 1)
  assert.ok(bad.stderr.includes(`https://${server.addr}/peers`), bad.stderr)
  assert.match(bad.stderr, /unable to get local issuer certificate/)
  const insecure = cli(['peers', '--server', `https://${server.addr}`, '--insecure'])
  assert.equal(insecure.status, 0, insecure.stderr)
  assert.match(insecure.stderr, warning)
})
