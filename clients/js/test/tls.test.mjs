// @blobsync/client over wss:// against a server with tls_cert/tls_key, as
// over ws://: document sync and putBlob/getBlob through the blob channel.
// Run by tests/tls/run.sh, which makes a CA and certificates at test time
// (BLOBSYNC_TLS_CERTS) and trusts the CA through NODE_EXTRA_CA_CERTS.
import test from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { scope, randomBytes, sha256hex, blobBytes, CHUNK, until } from './harness.mjs'

const certs = process.env.BLOBSYNC_TLS_CERTS
if (!certs) throw new Error('BLOBSYNC_TLS_CERTS is not set (run through tests/tls/run.sh)')

test('wss://: two providers sync a document and move a blob through the server', async t => {
  const s = scope(t)
  const server = await s.server(['--tls-cert', path.join(certs, 'server.pem'), '--tls-key', path.join(certs, 'server.key')])
  const url = `wss://127.0.0.1:${server.port}/sync`
  const a = s.provider(url, 'tls-room')
  const b = s.provider(url, 'tls-room')
  await Promise.all([a.whenSynced, b.whenSynced])
  a.doc.getText('t').insert(0, 'over TLS')
  await until(() => b.doc.getText('t').toString() === 'over TLS', 'b sees the edit')
  const data = randomBytes(3 * CHUNK + 77)
  const ref = await a.putBlob(data, { filename: 'tls.bin' })
  assert.equal(ref.hash, 'sha256:' + sha256hex(data))
  const blob = await b.getBlob(ref.hash)
  assert.ok(blob, 'getBlob over wss:// gave null')
  assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))
})
