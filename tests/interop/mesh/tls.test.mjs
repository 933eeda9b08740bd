// A mesh over wss:// (issue 21): servers A and B, each with its own
// certificate from one test CA made now with openssl, peer with wss:// URLs
// and trust that CA (tls_ca_file). A room edit and a blob cross the mesh
// both ways. Server R's certificate comes from an unrelated CA: A refuses to
// link to it (and R, trusting only its own CA, refuses A), nothing crosses,
// the reason is logged and /peers shows R failing with it. Server I has no
// CA for A but sets tls_insecure: it links (and gets the edits), and warns
// at start and on each connection it makes.
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { freePorts, Y, assert } from './mesh_harness.mjs'
import { WebsocketProvider, WebSocket } from '../sync/harness.mjs'
import { makeCerts, startTlsServer, httpsGet, trustingWebSocket, tmpDir, until } from '../../tls/tls_peers.mjs'

const BIN = process.env.BLOBSYNC_MESH_BIN
const servers = []
const verify = /certificate verify failed: unable to get local issuer certificate/

function docClient (server, room, ca) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(server.url, room, doc, {
    WebSocketPolyfill: trustingWebSocket(WebSocket, ca), disableBc: true
  })
  const synced = new Promise(resolve => provider.on('sync', s => { if (s) resolve() }))
  return { doc, synced, map: doc.getMap('m'), destroy: () => { provider.destroy(); doc.destroy() } }
}

// `blobsync put FILE --server wss://... --room R --ca-file CA`: the C++ client over TLS.
function cliPut (server, room, ca, bytes) {
  const dir = tmpDir('cli')
  const file = path.join(dir, 'blob.bin')
  fs.writeFileSync(file, bytes)
  const r = spawnSync(BIN, ['--data', path.join(dir, 'data'), 'put', file, '--server', server.url, '--room', room,
    '--ca-file', ca], { encoding: 'utf8' })
  assert(r.status === 0, `put to ${server.url}: ${r.stderr}`)
  return JSON.parse(r.stdout).hash.replace('sha256:', '')
}

async function serves (server, hex, ca, bytes) {
  const r = await httpsGet(`${server.https}/blobs/${hex}`, { ca })
  return r.status === 200 && r.body.equals(bytes)
}

async function peers (server, ca) {
  return JSON.parse((await httpsGet(`${server.https}/peers`, { ca })).body.toString())
}

async function run () {
  const certs = makeCerts(tmpDir('certs'), ['a', 'b'])
  const [pa, pb, pr, pi] = await freePorts(4)
  const url = p => `wss://127.0.0.1:${p}/sync`
  const mesh = ['--peer-token', 'tls-mesh-peer-token', '--mesh-link-backoff-max', '500ms', '--mesh-rescan-interval', '500ms']
  const a = await startTlsServer(BIN, { ...certs.a, port: pa, tag: 'a',
    extra: [...mesh, '--peers', `${url(pb)},${url(pr)}`, '--tls-ca-file', certs.ca] })
  servers.push(a)
  const b = await startTlsServer(BIN, { ...certs.b, port: pb, tag: 'b',
    extra: [...mesh, '--peers', url(pa), '--tls-ca-file', certs.ca] })
  servers.push(b)
  const r = await startTlsServer(BIN, { ...certs.rogue, port: pr, tag: 'r',
    extra: [...mesh, '--peers', url(pa), '--tls-ca-file', certs.otherCa] })
  servers.push(r)
  const i = await startTlsServer(BIN, { ...certs.rogue, port: pi, tag: 'i',
    extra: [...mesh, '--peers', url(pa), '--tls-insecure', 'true'] })
  servers.push(i)
  assert(a.url === url(pa) && b.url === url(pb), 'servers are named by their wss:// URLs')

  const room = 'tls-notes'
  const onA = docClient(a, room, certs.ca)
  const onB = docClient(b, room, certs.ca)
  const onR = docClient(r, room, certs.otherCa)
  await Promise.all([onA.synced, onB.synced, onR.synced])

  // Edits both ways between A and B.
  onA.map.set('fromA', 'hello over wss')
  await until(() => onB.map.get('fromA') === 'hello over wss', 'B sees the edit made on A')
  onB.map.set('fromB', 'and back')
  await until(() => onA.map.get('fromB') === 'and back', 'A sees the edit made on B')

  // Blobs both ways, put through the C++ client over wss://.
  const one = crypto.randomBytes(300 * 1024)
  const two = crypto.randomBytes(200 * 1024)
  const hexOne = cliPut(a, room, certs.ca, one)
  const hexTwo = cliPut(b, room, certs.ca, two)
  await until(() => serves(b, hexOne, certs.ca, one), 'B replicated the blob put on A')
  await until(() => serves(a, hexTwo, certs.ca, two), 'A replicated the blob put on B')

  // A's peer B is up; R is failing with the verification error, and logged.
  await until(async () => {
    const rep = await peers(a, certs.ca)
    const pB = rep.peers.find(p => p.url === b.url)
    const pR = rep.peers.find(p => p.url === r.url)
    return pB?.state === 'up' && pR && pR.state !== 'up' && verify.test(pR.last_error)
  }, async () => `A's /peers: B up, R failing on verification: ${JSON.stringify(await peers(a, certs.ca))}`)
  assert(verify.test(a.stderr) && a.stderr.includes(r.url), `A logs why R is refused: ${a.stderr.slice(-2000)}`)
  await until(() => verify.test(r.stderr), 'R logs why A is refused (R trusts only the other CA)')
  const rReport = JSON.parse((await httpsGet(`${r.https}/peers`, { ca: certs.otherCa })).body.toString())
  assert(rReport.peers.every(p => p.state !== 'up' && p.rooms_synced === 0), `R has no link: ${JSON.stringify(rReport)}`)

  // Nothing crossed to or from R: a last edit on A reaches B, and by then R
  // has neither edits nor blobs, and R's own edit reached nobody.
  onR.map.set('fromR', 'should stay on R')
  onA.map.set('marker', 1)
  await until(() => onB.map.get('marker') === 1, 'B sees the marker')
  assert(onR.map.get('fromA') === undefined && onR.map.get('fromB') === undefined, 'R got no edit')
  assert(onA.map.get('fromR') === undefined && onB.map.get('fromR') === undefined, 'R\'s edit reached nobody')
  for (const hex of [hexOne, hexTwo]) {
    const got = await httpsGet(`${r.https}/blobs/${hex}`, { ca: certs.otherCa })
    assert(got.status === 404, `R does not hold ${hex} (status ${got.status})`)
  }

  // I reached A without verifying it, and said so at start and per connection.
  const onI = docClient(i, room, certs.otherCa)
  await onI.synced
  await until(() => onI.map.get('marker') === 1, 'I (tls_insecure) got the edits from A')
  assert(/tls_insecure is set: wss:\/\/ peers and holders are NOT verified/.test(i.stderr), `I warns at start: ${i.stderr}`)
  const perConnection = i.stderr.split('\n').filter(l => l.includes(`connecting to ${a.url} WITHOUT verifying its certificate`))
  assert(perConnection.length >= 2, `I warns on each connection (one per room link): ${i.stderr}`)
  assert(!/WITHOUT verifying/.test(a.stderr + b.stderr), 'verifying servers do not warn')
  for (const c of [onA, onB, onR, onI]) c.destroy()
}

try {
  await run()
  console.log('ok - mesh over wss://: edits and blobs both ways; a peer from another CA refused')
  for (const s of servers) await s.stop()
  process.exit(0)
} catch (e) {
  console.error(`not ok - mesh tls: ${e.stack || e}`)
  for (const s of servers) console.error(`--- server stderr (${s.addr}) ---\n${s.stderr.slice(-4000)}`)
  for (const s of servers) await s.stop('SIGKILL')
  process.exit(1)
}
