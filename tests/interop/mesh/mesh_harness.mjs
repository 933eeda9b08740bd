// Harness for the mesh suite: N servers on loopback ports, each with every
// other as a peer. Reuses the sync harness (Server, clients, until) with the
// server `blobsync serve` ($BLOBSYNC_MESH_BIN, else $BLOBSYNC_SYNC_BIN),
// run with `--listen 127.0.0.1:PORT --data DIR --peer URL...` plus test
// flags (translated by the sync harness's serveArgs); GET /peers answers the
// mesh report.
import net from 'node:net'
import http from 'node:http'

if (process.env.BLOBSYNC_MESH_BIN) process.env.BLOBSYNC_SYNC_BIN = process.env.BLOBSYNC_MESH_BIN

const sync = await import('../sync/harness.mjs')
const blobs = await import('../sync/blobclient.mjs')
export const { Server, client, until, assert, tmpDir, Y, ADMIN_TOKEN } = sync
export const { BlobClient, memoryBlob, testBytes, hashRef } = blobs

// Ports nobody listens on right now (the servers bind them a moment later).
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

export const urlOf = port => `ws://127.0.0.1:${port}/sync`

// Starts n servers (registered in `servers` for cleanup) that peer with each
// other. args(i) adds flags for server i. Fast timings for tests.
export async function startMesh (servers, n, { args = () => [], tag = 'mesh' } = {}) {
  const ports = await freePorts(n)
  const out = []
  for (let i = 0; i < n; i++) {
    const peers = ports.filter((_, j) => j !== i).flatMap(p => ['--peer', urlOf(p)])
    const s = new Server(tmpDir(`${tag}${i}`), [
      '--no-fsync', '--link-backoff-max-ms', '1000', '--rescan-ms', '1000', ...peers, ...args(i)])
    s.meshPort = ports[i]
    out.push(s)
    servers.push(s)
  }
  await Promise.all(out.map((s, i) => s.start(ports[i])))
  return out
}

export async function httpGet (server, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.port, path }, res => {
      let body = ''
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    }).on('error', reject)
  })
}

export async function peersReport (server) {
  const r = await httpGet(server, '/peers')
  return JSON.parse(r.body)
}

// Every peer of every live server reports state "up" (all rooms synced).
export async function meshUp (servers) {
  for (const s of servers) {
    if (!s.alive()) continue
    const r = await peersReport(s)
    const live = r.peers.filter(p => servers.some(o => o.alive() && o.url === p.url))
    if (live.length === 0 || live.some(p => p.state !== 'up')) return false
  }
  return true
}

// Does `server` hold the blob (HAVE over a fresh blob-channel connection)?
export async function holds (server, room, hash) {
  const c = await BlobClient.connect(server.url, room)
  try {
    const [have] = await c.have([hash])
    return have
  } finally { c.close() }
}

// The registry entry of `hash` as seen by a fresh y-websocket client of `server`.
export async function registryEntry (server, room, hash) {
  const c = client(server.url, room)
  try {
    await c.synced
    return c.doc.getMap('_blobRegistry').get(hashRef(hash)) || null
  } finally { c.destroy() }
}

export const sameSet = (a, b) => a.length === b.length && a.every(x => b.includes(x))

export async function main (name, fn) { return sync.main(name, fn) }
