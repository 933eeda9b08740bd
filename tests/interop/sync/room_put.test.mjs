// Issue 19: PUT /blobs/<hash>?room=R with a room token stores the blob as
// PUT /blobs does and lists this server in R's _blobRegistry, so a plain
// HTTP client (curl, a browser's fetch with a File) can put a blob into a
// room; a y-websocket client then sees the entry. The abuse cases (wrong
// room, read scope, expired or missing token, a body that does not match
// the hash, a session instead of a room token) are refused and leave
// nothing in any registry.
import crypto from 'node:crypto'
import http from 'node:http'
import { Server, client, until, assert, main, tmpDir } from './harness.mjs'

const SECRET = 'room-put-room-secret-0123456789abcdef'
const PEER = 'room-put-peer-token-0123'
const now = () => Math.floor(Date.now() / 1000)
const b64 = x => Buffer.from(JSON.stringify(x)).toString('base64url')
function roomToken ({ rooms = ['team/*'], scope = 'write', iat = now() - 5, exp = now() + 3600 } = {}) {
  const input = `${b64({ alg: 'HS256', typ: 'blobsync-room+jwt' })}.${b64({ aud: 'blobsync:room', rooms, scope, iat, exp })}`
  return `${input}.${crypto.createHmac('sha256', SECRET).update(input).digest('base64url')}`
}
const sha = b => crypto.createHash('sha256').update(b).digest('hex')

main('PUT /blobs/<hash>?room=R announces in the room; refusals announce nothing', async servers => {
  const s = await new Server(tmpDir('room-put'), ['--no-fsync', '--room-token-secret', SECRET, '--peer-tokens', PEER, '--require-token', 'true']).start()
  servers.push(s)
  const base = `http://${s.addr}`
  const put = (hex, body, { room, token, query = '', headers = {} } = {}) => {
    const q = new URLSearchParams()
    if (room !== undefined) q.set('room', room)
    const qs = q.toString() + query
    return fetch(`${base}/blobs/${hex}${qs ? '?' + qs : ''}`, {
      method: 'PUT', body, headers: { 'content-type': 'application/octet-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }
    })
  }
  // Registries seen by an observer (a peer token reads every room).
  const observers = new Map()
  const registry = async room => {
    if (!observers.has(room)) {
      const c = client(s.url, room, { params: { token: PEER } })
      await c.synced
      observers.set(room, c)
    }
    return observers.get(room).doc.getMap('_blobRegistry')
  }

  // 1. A file into a room with Authorization: Bearer; a Yjs client sees it.
  const file = new Blob([crypto.randomBytes(600 * 1024)])  // a File-like body, as a browser's fetch sends
  const bytes = Buffer.from(await file.arrayBuffer())
  const hex = sha(bytes)
  const reader = client(s.url, 'team/notes', { params: { token: roomToken({ scope: 'read' }) } })
  await reader.synced
  let r = await put(hex, file, { room: 'team/notes', token: roomToken() })
  const body = await r.json()
  assert(r.status === 201, `PUT ?room: 201 (got ${r.status} ${JSON.stringify(body)})`)
  assert(body.hash === `sha256:${hex}` && body.size === bytes.length, `response names the blob: ${JSON.stringify(body)}`)
  assert(body.announced && body.announced.room === 'team/notes' && body.announced.key === `sha256:${hex}` &&
    body.announced.holder === s.url, `response says what was announced: ${JSON.stringify(body.announced)}`)
  // Announced before the answer: the entry is durable, so it is there now or momentarily.
  const reg = reader.doc.getMap('_blobRegistry')
  await until(() => reg.has(`sha256:${hex}`), 'the y-websocket client sees the registry entry', 10000)
  const entry = reg.get(`sha256:${hex}`)
  assert(entry.holders.includes(s.url) && entry.size === bytes.length && entry.chunkCount === 3,
    `entry {holders, size, chunkCount}: ${JSON.stringify(entry)}`)
  const got = await fetch(`${base}/blobs/${hex}`)
  assert(got.status === 200 && sha(Buffer.from(await got.arrayBuffer())) === hex, 'GET /blobs returns the bytes (held by the room)')
  reader.destroy()

  // 2. ?token= instead of the header, a room name that needs encoding.
  const two = crypto.randomBytes(1000)
  const room2 = 'team/a%20b+c'  // the raw name, as /sync/ carries it
  r = await put(sha(two), two, { room: room2, query: `&token=${encodeURIComponent(roomToken())}` })
  assert(r.status === 201, `PUT ?room&token: 201 (got ${r.status} ${await r.text()})`)
  await until(async () => (await registry(room2)).has(`sha256:${sha(two)}`), 'entry in a room whose name has an escape and a plus', 10000)

  // 3. The same bytes again: idempotent, still one entry.
  r = await put(hex, bytes, { room: 'team/notes', token: roomToken() })
  assert(r.status === 201, `re-PUT 201 (got ${r.status})`)

  // 4. Refusals: status, error name, and nothing announced anywhere.
  const refusals = [
    ['no token', { room: 'team/x' }, 401, 'AuthenticationRequired'],
    ['a token for other rooms', { room: 'other/x', token: roomToken() }, 403, 'Forbidden'],
    ['read scope', { room: 'team/x', token: roomToken({ scope: 'read' }) }, 403, 'Forbidden'],
    ['an expired token', { room: 'team/x', token: roomToken({ iat: now() - 7200, exp: now() - 3600 }) }, 401, 'ExpiredToken'],
    ['a forged token', { room: 'team/x', token: roomToken().slice(0, -4) + 'AAAA' }, 401, 'InvalidToken'],
    ['the _mesh room', { room: '_mesh', token: roomToken({ rooms: ['*'] }) }, 403, 'Forbidden'],
    ['an invalid room name', { room: '../x', token: roomToken({ rooms: ['*'] }) }, 400, 'InvalidRequest'],
    ['an empty room name', { room: '', token: roomToken({ rooms: ['*'] }) }, 400, 'InvalidRequest']
  ]
  for (const [what, opts, status, name] of refusals) {
    const b = crypto.randomBytes(2000)
    const res = await put(sha(b), b, opts)
    const j = await res.json()
    assert(res.status === status && j.error === name, `${what}: ${status} ${name} (got ${res.status} ${JSON.stringify(j)})`)
    assert((await fetch(`${base}/blobs/${sha(b)}`)).status === 404, `${what}: nothing stored`)
  }
  // An ATProto session is not a room credential.
  const handle = `rp${crypto.randomBytes(3).toString('hex')}.test`
  const acct = await (await fetch(`${base}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ handle, email: `${handle}@example.com`, password: 'hunter2' })
  })).json()
  {
    const b = crypto.randomBytes(2000)
    const res = await put(sha(b), b, { room: 'team/x', token: acct.accessJwt })
    assert(res.status === 401, `an ATProto session on ?room: 401 (got ${res.status})`)
    await res.arrayBuffer()
    // ...while the same session without ?room still stores (today's rule).
    const plain = await put(sha(b), b, { token: acct.accessJwt })
    assert(plain.status === 201 && !(await plain.json()).announced, 'PUT without ?room keeps the session rule and announces nothing')
  }
  // Hash mismatch: 400 HashMismatch, nothing stored, nothing announced.
  {
    const b = crypto.randomBytes(300 * 1024)
    const claimed = sha(crypto.randomBytes(10))
    const res = await put(claimed, b, { room: 'team/x', token: roomToken() })
    const j = await res.json()
    assert(res.status === 400 && j.error === 'HashMismatch', `hash mismatch: 400 HashMismatch (got ${res.status} ${JSON.stringify(j)})`)
    assert((await fetch(`${base}/blobs/${claimed}`)).status === 404 && (await fetch(`${base}/blobs/${sha(b)}`)).status === 404, 'mismatch: nothing stored')
  }
  // Over max_upload_bytes: 413 from Content-Length, before the body is read.
  {
    const big = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.port, method: 'PUT', path: `/blobs/${'ab'.repeat(32)}?room=team%2Fx`,
        headers: { authorization: `Bearer ${roomToken()}`, 'content-length': String(200 * 1024 * 1024) } }, res => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.write(Buffer.alloc(1000))
    })
    assert(big === 413, `oversized body: 413 (got ${big})`)
  }
  for (const room of ['team/x', 'other/x']) {
    const reg2 = await registry(room)
    // Give any stray announcement time to arrive: a write through a room we
    // observe would show up in well under a second.
    await new Promise(resolve => setTimeout(resolve, 500))
    assert(reg2.size === 0, `${room}: nothing announced by any refused PUT (has ${[...reg2.keys()].join(', ')})`)
  }
  for (const c of observers.values()) c.destroy()

  // A server that requires no token (the default) takes ?room from anyone, as
  // it takes a WebSocket to the room; a static sync token works where tokens are.
  const open = await new Server(tmpDir('room-put-open'), ['--no-fsync']).start()
  servers.push(open)
  const ob = crypto.randomBytes(5000)
  const or = await fetch(`http://${open.addr}/blobs/${sha(ob)}?room=anyone`, { method: 'PUT', body: ob })
  assert(or.status === 201 && (await or.json()).announced.room === 'anyone', `open server: 201 (got ${or.status})`)
  const stat = await new Server(tmpDir('room-put-static'), ['--no-fsync', '--token', 'static-sync-token-0123']).start()
  servers.push(stat)
  const sr = await fetch(`http://${stat.addr}/blobs/${sha(ob)}?room=any&token=static-sync-token-0123`, { method: 'PUT', body: ob })
  assert(sr.status === 201, `static sync token: 201 (got ${sr.status})`)
  await sr.arrayBuffer()
  const sn = await fetch(`http://${stat.addr}/blobs/${sha(ob)}?room=any&token=wrong`, { method: 'PUT', body: ob })
  assert(sn.status === 401 && (await sn.json()).error === 'InvalidToken', `unknown static token: 401 InvalidToken (got ${sn.status})`)
})
