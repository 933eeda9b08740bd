// Helpers for the blob lifecycle tests: HTTP calls against a sync test
// server (harness.mjs Server), the blobsync CLI, and reads of its meta.db.
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { serverCommand, until } from './harness.mjs'

export const BIN = serverCommand()[0]
export const hexOf = bytes => crypto.createHash('sha256').update(bytes).digest('hex')

export const base = server => `http://${server.addr}`

export async function xrpc (server, method, nsid, { token, body, bytes, type } = {}) {
  const headers = {}
  if (token) headers.authorization = `Bearer ${token}`
  let payload
  if (bytes) { payload = bytes; headers['content-type'] = type || 'application/octet-stream' } else if (body) { payload = JSON.stringify(body); headers['content-type'] = 'application/json' }
  const r = await fetch(`${base(server)}/xrpc/${nsid}`, { method, headers, body: payload })
  const text = await r.text()
  let json = null
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, json, text }
}

let accounts = 0
export async function createAccount (server) {
  const handle = `life${++accounts}${crypto.randomBytes(2).toString('hex')}.test`
  const r = await xrpc(server, 'POST', 'com.atproto.server.createAccount',
    { body: { handle, email: `${handle}@example.com`, password: 'hunter22' } })
  if (r.status !== 200) throw new Error(`createAccount: ${r.status} ${r.text}`)
  return r.json
}

export async function uploadBlob (server, account, bytes) {
  const r = await xrpc(server, 'POST', 'com.atproto.repo.uploadBlob', { token: account.accessJwt, bytes })
  if (r.status !== 200) throw new Error(`uploadBlob: ${r.status} ${r.text}`)
  return r.json.blob
}

// GET /blobs/<hex>: { status, bytes }.
export async function getBlob (server, hex) {
  const r = await fetch(`${base(server)}/blobs/${hex}`)
  return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()) }
}

// Runs the blobsync CLI; returns { status, stdout, stderr }.
export function cli (args, env = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, ...env } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

// `blobsync put FILE --server URL --room ROOM` from a fresh client data dir.
export function cliPutToRoom (server, room, bytes, dir) {
  const file = path.join(dir, `put-${crypto.randomBytes(4).toString('hex')}.bin`)
  fs.writeFileSync(file, bytes)
  const r = cli(['put', file, '--server', server.url, '--room', room, '--data', path.join(dir, 'client')])
  if (r.status !== 0) throw new Error(`blobsync put --server failed (${r.status}): ${r.stderr}`)
  return r
}

// One row per line, columns tab-separated, from the server's meta.db.
export function sql (dataDir, query) {
  const r = spawnSync('sqlite3', ['-separator', '\t', path.join(dataDir, 'meta.db'), query], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`)
  return r.stdout.split('\n').filter(l => l !== '').map(l => l.split('\t'))
}

export const blobRow = (dataDir, hex) =>
  sql(dataDir, `SELECT state FROM blobs WHERE lower(hex(hash)) = '${hex}'`)[0] || null
export const blobFile = (dataDir, hex) => path.join(dataDir, 'blobs', hex.slice(0, 2), hex)

// Makes a blob look like one kept by the rules before holds existed: listed in
// a room, but nothing holds it and its grace period is long over.
export function forgetHolds (dataDir, hex) {
  sql(dataDir, `DELETE FROM blob_hold WHERE lower(hex(hash)) = '${hex}';` +
    `UPDATE blobs SET state = 0, created_at_ms = 0, unheld_at_ms = NULL WHERE lower(hex(hash)) = '${hex}'`)
}

// Waits until a canary (an unreferenced upload) was collected: a sweep that
// started after `since` ran to the end, past the grace period.
export async function sweepPassed (server, account, dataDir, what = 'a sweep') {
  const canary = crypto.randomBytes(1000)
  await uploadBlob(server, account, canary)
  const hex = hexOf(canary)
  await until(() => !fs.existsSync(blobFile(dataDir, hex)), `${what}: the canary upload collected`, 30000)
}
