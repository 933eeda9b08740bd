// Who a server dials (issue #15): a client with a room token writes registry
// entries naming holders of its choice. The server must connect only to its
// configured peers (presenting peer_token, never a client token) and to
// holders under a mesh_allow prefix (presenting no token); any other holder,
// however spelled, gets no connection at all: no fetch, no probe.
//
// Raw TCP listeners stand in for the named holders and record the request
// head of every connection they get.
import net from 'node:net'
import crypto from 'node:crypto'
import { rawSocket } from '../sync/harness.mjs'
import { Server, tmpDir, freePorts, urlOf, until, assert, main, client, BlobClient, hashRef, peersReport, meshUp } from './mesh_harness.mjs'

const CLIENT_TOKEN = 'client-token-1'
const PEER_TOKEN = 'peer-token-7'
const FAST = ['--no-fsync', '--rescan-ms', '500', '--probe-interval-ms', '500', '--prune-after-ms', '1000',
  '--link-backoff-max-ms', '500']

async function trap () {
  const heads = []
  let connections = 0
  const srv = net.createServer(sock => {
    connections++
    let head = ''
    sock.on('data', d => {
      head += d
      if (head.includes('\r\n\r\n')) { heads.push(head); sock.destroy() }
    })
    sock.on('error', () => {})
  })
  await new Promise(resolve => srv.listen(0, '127.0.0.1', resolve))
  return { port: srv.address().port, heads, connections: () => connections, close: () => srv.close() }
}

// Writes entries {hash: holders} into `room` through a client with `token`,
// then reads them back through a second client: the server has them. `_mesh`
// takes a peer token (issue 17): there a peer is the writer.
async function writeEntries (server, room, entries, token = CLIENT_TOKEN, size = 1000) {
  const w = client(server.url, room, { params: { token } })
  await w.synced
  const reg = w.doc.getMap('_blobRegistry')
  for (const [ref, holders] of Object.entries(entries)) reg.set(ref, { holders, size, chunkCount: 1 })
  const r = client(server.url, room, { params: { token } })
  await until(() => Object.keys(entries).every(k => r.doc.getMap('_blobRegistry').get(k)), `${server.url} has the entries in ${room}`)
  w.destroy(); r.destroy()
}

const randomRef = () => hashRef(crypto.randomBytes(32))

main('mesh dial: only peers and mesh_allow holders are dialed, with the right token', async servers => {
  const [t1, t2, t3, t4] = await Promise.all([trap(), trap(), trap(), trap()])
  const [pA, pB] = await freePorts(2)
  const auth = ['--token', CLIENT_TOKEN]
  // A and B: a real mesh with a shared peer_token that is not a client token.
  const a = new Server(tmpDir('dial-a'), [...FAST, ...auth, '--peer-token', PEER_TOKEN, '--peer', urlOf(pB), '--peer', urlOf(t3.port)])
  const b = new Server(tmpDir('dial-b'), [...FAST, ...auth, '--peer-token', PEER_TOKEN, '--peer', urlOf(pA)])
  // C: no peers. D: no peers, t2 allowed. F: a peer but no peer_token.
  const c = new Server(tmpDir('dial-c'), [...FAST, ...auth])
  const d = new Server(tmpDir('dial-d'), [...FAST, ...auth, '--peer-token', PEER_TOKEN, '--mesh-allow', `ws://127.0.0.1:${t2.port}/sync`])
  const f = new Server(tmpDir('dial-f'), [...FAST, ...auth, '--peer', urlOf(t4.port)])
  servers.push(a, b, c, d, f)
  await Promise.all([a.start(pA), b.start(pB), c.start(), d.start(), f.start()])

  // (3) peer_token reaches configured peers, and is accepted by them without
  // being one of their sync tokens.
  await until(() => t3.heads.length > 0, 'A links to its configured (fake) peer')
  for (const head of t3.heads) {
    assert(head.startsWith('GET /sync/'), `A dials the peer's sync path: ${head.split('\r\n')[0]}`)
    assert(head.includes(`token=${PEER_TOKEN}`), 'A presents peer_token to its peer')
    assert(!head.includes(CLIENT_TOKEN), 'A never presents a client token to its peer')
  }
  await until(() => meshUp([a, b]), 'A and B link with peer_token alone')
  await until(() => t4.heads.length > 0, 'F links to its configured (fake) peer')
  for (const head of t4.heads) {
    assert(!head.includes('token='), `F, without peer_token, presents no token: ${head.split('\r\n')[0]}`)
    assert(!head.includes(CLIENT_TOKEN) && !/authorization:/i.test(head), 'F does not fall back to a client token')
  }

  // (1) the reproduction: holders naming t1, in _mesh and in an ordinary room,
  // spelled every way that once reached it.
  const lure = p => [urlOf(p), `ws://127.0.0.1:${p}/sync/`, `WS://127.0.0.1:${p}/sync`,
    `ws://127.0.0.1:${pB}@127.0.0.1:${p}/sync`, `ws://peer@127.0.0.1:${p}/sync`]
  const refs = {}
  for (const holder of lure(t1.port)) refs[randomRef()] = [holder]
  // `_mesh` is for peers: a client token is refused there (4403) on every server.
  for (const s of [a, c, f]) {
    const raw = await rawSocket(s.url, '_mesh', { query: `?token=${CLIENT_TOKEN}` })
    const closed = await raw.closed
    assert(closed.code === 4403, `${s.url}: a client token on _mesh closes with 4403 (got ${closed.code})`)
  }
  await writeEntries(a, '_mesh', refs, PEER_TOKEN)
  for (const s of [a, c, f]) await writeEntries(s, 'album', refs)
  // D allows t2's /sync only: a neighbouring path, t1, and userinfo tricks stay refused.
  await writeEntries(d, '_mesh', {
    [randomRef()]: [`ws://127.0.0.1:${t2.port}/sync/`],
    [randomRef()]: [`ws://127.0.0.1:${t2.port}/syncx`, `ws://127.0.0.1:${t2.port}@127.0.0.1:${t1.port}/sync`, urlOf(t1.port)]
  }, PEER_TOKEN)
  // Replicate-on-fetch: a client asking A for a lured blob gets NOT_FOUND at once.
  const bc = await BlobClient.connect(a.url, 'album', { query: `?token=${CLIENT_TOKEN}` })
  let err = null
  try { await bc.download(Buffer.from(Object.keys(refs)[0].slice(7), 'hex')) } catch (e) { err = e }
  bc.close()
  assert(err && err.code === 'NOT_FOUND', `replicate-on-fetch refuses the lured holder (${err && err.message})`)

  // (2) the allowed holder is dialed, with no token of any kind.
  await until(() => t2.heads.length > 0, 'D dials the holder under its mesh_allow prefix')
  for (const head of t2.heads) {
    assert(head.startsWith('GET /sync/_mesh'), `D dials the allowed URL exactly: ${head.split('\r\n')[0]}`)
    assert(!head.includes('token=') && !/authorization:/i.test(head), 'D presents no token to a mesh_allow holder')
    assert(!head.includes(PEER_TOKEN) && !head.includes(CLIENT_TOKEN), 'no secret of D reaches the allowed holder')
  }

  // Longer than several rescans and probe rounds of every server.
  await new Promise(resolve => setTimeout(resolve, 4000))
  assert(t1.connections() === 0, `no server dialed the lured holder (${t1.connections()} connections, e.g. ${t1.heads.slice(0, 3).map(h => h.split("\r\n")[0])})`)
  // C (no peers) hosts only `_mesh`, which no client can write any more: nothing to refuse there.
  for (const s of [a, d, f]) {
    const r = await peersReport(s)
    assert(r.holders_refused >= 1, `${s.url} counts refused holders (${r.holders_refused})`)
  }
  for (const t of [t1, t2, t3, t4]) t.close()
})
