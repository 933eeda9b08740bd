// Scoped access (issue 17) against the real server: room tokens (HS256 JWTs
// naming rooms and a scope), their expiry and revocation, read-only tokens
// trying every write, ATProto tokens and room tokens never standing in for
// each other, peer privileges only for peer tokens (`_mesh`, no chunk
// re-check: a forged User-Agent changes nothing), `blobsync token create`,
// and the admin endpoints (/metrics, /peers) open on loopback only.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { Server, client, until, assert, main, tmpDir, rawSocket, serverCommand, ADMIN_TOKEN, Y } from './harness.mjs'
import { BlobClient, BlobError, memoryBlob, testBytes, hashRef } from './blobclient.mjs'

const ROOM_SECRET = 'room-secret-0123456789abcdef-0123456789'
const JWT_SECRET = 'jwt-secret-0123456789abcdef-0123456789'
const PEER = 'peer-token-for-servers-only'
const STATIC = 'static-client-token'
const BIN = serverCommand()[0]
const now = () => Math.floor(Date.now() / 1000)

const b64 = x => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url')
function sign (header, payload, secret) {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`
}
// What an app's backend does (docs/security.md, "Room tokens").
function roomToken ({ rooms, scope = 'write', iat = now(), exp = iat + 3600, secret = ROOM_SECRET, typ = 'blobsync-room+jwt', aud = 'blobsync:room' }) {
  return sign({ alg: 'HS256', typ }, { aud, rooms, scope, iat, exp }, secret)
}

// Connects with `token`; resolves 'open' once the room greets, or the close code.
async function outcome (server, room, { token, headers } = {}) {
  const raw = await rawSocket(server.url, room, { query: token ? `?token=${encodeURIComponent(token)}` : '', headers })
  const r = await new Promise(resolve => {
    raw.closed.then(c => resolve({ code: c.code, reason: c.reason }))
    const greeted = () => { if (raw.got.some(m => m[0] === 0)) resolve({ code: 'open' }) }
    raw.ws.on('message', greeted)
    greeted()
    setTimeout(() => resolve({ code: 'neither greeted nor closed within 30 s', reason: room }), 30000).unref()
  })
  raw.ws.close()
  return r
}

async function expectClose (server, room, code, opts, what) {
  const r = await outcome(server, room, opts)
  assert(r.code === code, `${what}: expected ${code}, got ${r.code} ${r.reason || ''}`)
  return r
}

async function httpJson (server, method, p, { token, body } = {}) {
  const res = await fetch(`http://${server.addr}${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined
  })
  return { status: res.status, body: await res.text() }
}

const flipByte = (file, at) => {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, at)
  b[0] ^= 0xff
  fs.writeSync(fd, b, 0, 1, at)
  fs.closeSync(fd)
}

main('tokens: room tokens, read-only writes, ATProto separation, peer privileges, token create, admin', async servers => {
  const s = await new Server(tmpDir('tokens'), ['--no-fsync', '--room-token-secret', ROOM_SECRET, '--peer-token', PEER,
    '--token', STATIC, '--scrub-rate', '0'], { env: { BLOBSYNC_JWT_SECRET: JWT_SECRET } }).start()
  servers.push(s)

  // --- A token for room A opens A, never B; patterns cross '/'.
  const a = roomToken({ rooms: ['room-a'] })
  assert((await outcome(s, 'room-a', { token: a })).code === 'open', 'a token for room-a opens room-a')
  assert((await outcome(s, 'room-a', { headers: { Authorization: `Bearer ${a}` } })).code === 'open', 'as a Bearer header too')
  await expectClose(s, 'room-b', 4403, { token: a }, 'a token for room-a on room-b')
  await expectClose(s, 'room-a2', 4403, { token: a }, 'no prefix match without *')
  const team = roomToken({ rooms: ['team/*'] })
  assert((await outcome(s, 'team/a/b', { token: team })).code === 'open', 'team/* opens team/a/b')
  assert((await outcome(s, 'team/x', { token: team })).code === 'open', 'team/* opens team/x')
  await expectClose(s, 'teams/x', 4403, { token: team }, 'team/* on teams/x')
  await expectClose(s, 'other/team/x', 4403, { token: team }, 'team/* on other/team/x')

  // --- Expired, not yet valid, forged, wrong kind: 4401.
  const t = now()
  let r = await expectClose(s, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], iat: t - 7200, exp: t - 3600 }) }, 'expired token')
  assert(/expired/.test(r.reason), `the close reason says expired (${r.reason})`)
  assert((await outcome(s, 'room-a', { token: roomToken({ rooms: ['room-a'], iat: t - 7200, exp: t - 10 }) })).code === 'open',
    'expired 10 s ago: within the documented 60 s clock skew')
  await expectClose(s, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], iat: t + 3600, exp: t + 7200 }) }, 'token issued in the future')
  await expectClose(s, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], secret: 'another-secret-another-secret-000' }) }, 'bad signature')
  const unsigned = `${b64({ alg: 'none', typ: 'blobsync-room+jwt' })}.${b64({ aud: 'blobsync:room', rooms: ['*'], scope: 'write', iat: t, exp: t + 60 })}.`
  await expectClose(s, 'room-a', 4401, { token: unsigned }, 'alg none')
  await expectClose(s, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], aud: 'did:web:localhost' }) }, 'wrong aud')
  await expectClose(s, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], typ: 'at+jwt' }) }, 'wrong typ')
  await expectClose(s, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], scope: 'admin' }) }, 'unknown scope')
  await expectClose(s, 'room-a', 4401, { token: 'x'.repeat(6000) + '.' + 'y'.repeat(6000) + '.z' }, 'a 12 KB token')
  await expectClose(s, 'room-a', 4401, {}, 'no token')
  assert((await outcome(s, 'room-a', { token: STATIC })).code === 'open', 'static sync_tokens keep working')

  // --- ATProto tokens are not room tokens, and room tokens are not sessions.
  const acct = await httpJson(s, 'POST', '/xrpc/com.atproto.server.createAccount',
    { body: { handle: 'alice.test', email: 'a@example.com', password: 'hunter22' } })
  assert(acct.status === 200, `createAccount: ${acct.status} ${acct.body}`)
  const { accessJwt, refreshJwt, did } = JSON.parse(acct.body)
  assert((await httpJson(s, 'GET', '/xrpc/com.atproto.server.getSession', { token: accessJwt })).status === 200, 'the access token is a session')
  await expectClose(s, 'room-a', 4401, { token: accessJwt }, 'an ATProto access token offered as a room token')
  await expectClose(s, 'room-a', 4401, { token: refreshJwt }, 'an ATProto refresh token offered as a room token')
  let g = await httpJson(s, 'GET', '/xrpc/com.atproto.server.getSession', { token: a })
  assert(g.status === 401, `a room token offered as an ATProto session: 401 (got ${g.status} ${g.body})`)
  // Even signed with the session key and carrying session claims, typ blobsync-room+jwt is no session;
  // the same token with typ at+jwt is one (the check that fails is the typ).
  const sessionClaims = { scope: 'com.atproto.access', sub: did, aud: 'did:web:localhost', iat: t, exp: t + 600 }
  g = await httpJson(s, 'GET', '/xrpc/com.atproto.server.getSession', { token: sign({ alg: 'HS256', typ: 'blobsync-room+jwt' }, sessionClaims, JWT_SECRET) })
  assert(g.status === 401, `typ blobsync-room+jwt under the session key: 401 (got ${g.status})`)
  g = await httpJson(s, 'GET', '/xrpc/com.atproto.server.getSession', { token: sign({ alg: 'HS256', typ: 'at+jwt' }, sessionClaims, JWT_SECRET) })
  assert(g.status === 200, `control: the same claims with typ at+jwt are a session (got ${g.status} ${g.body})`)
  const up = await fetch(`http://${s.addr}/xrpc/com.atproto.repo.uploadBlob`, {
    method: 'POST', headers: { authorization: `Bearer ${a}`, 'content-type': 'application/octet-stream' }, body: testBytes(100)
  })
  assert(up.status === 401, `a room token cannot upload over XRPC (got ${up.status})`)

  // --- A read-only token tries every write: document (sync step 2 and update),
  // registry (both ways), blob upload. None lands; reads work.
  const room = 'docs/ro'
  const write = roomToken({ rooms: ['docs/*'] })
  const read = roomToken({ rooms: ['docs/*'], scope: 'read' })
  const w = client(s.url, room, { params: { token: write } })
  await w.synced
  w.doc.getArray('a').push(['from-rw'])
  const bytes = testBytes(1000)
  const blob = memoryBlob(bytes)
  const wb = await BlobClient.connect(s.url, room, { query: `?token=${write}` })
  await wb.upload(blob)
  wb.close()
  await until(() => w.doc.getMap('_blobRegistry').has(hashRef(blob.hash)), 'the upload is in the registry')
  const evilRef = hashRef(crypto.randomBytes(32))
  const roDoc = new Y.Doc()
  roDoc.getArray('a').push(['ro-before'])  // goes out in the client's sync step 2
  roDoc.getMap('_blobRegistry').set(evilRef, { holders: ['ws://evil.example/sync'], size: 1, chunkCount: 1 })
  const ro = client(s.url, room, { params: { token: read }, doc: roDoc })
  await ro.synced
  await until(() => ro.doc.getArray('a').toArray().includes('from-rw'), 'the read-only client reads the document')
  ro.doc.getArray('a').push(['ro-after'])                     // an update
  ro.doc.getMap('_blobRegistry').delete(hashRef(blob.hash))  // a registry delete
  ro.doc.getMap('_blobRegistry').set(hashRef(crypto.randomBytes(32)), { holders: ['ws://evil.example/sync'], size: 1, chunkCount: 1 })
  // A room handles one connection's messages in order: once its awareness
  // (sent after the edits) reaches the writer, the edits were handled.
  ro.provider.awareness.setLocalStateField('mark', 1)
  await until(() => w.provider.awareness.getStates().get(roDoc.clientID)?.mark === 1, 'the writer sees the read-only client\'s awareness')
  const roBlob = await BlobClient.connect(s.url, room, { query: `?token=${read}` })
  assert((await roBlob.download(blob.hash)).data.equals(bytes), 'a read-only token downloads')
  let err = null
  try { await roBlob.upload(memoryBlob(testBytes(2000))) } catch (e) { err = e }
  assert(err instanceof BlobError && err.code === 'FORBIDDEN', `a read-only upload gets FORBIDDEN (${err && err.message})`)
  roBlob.close()
  const probe = client(s.url, room, { params: { token: write } })
  await probe.synced
  const arr = probe.doc.getArray('a').toArray()
  const reg = probe.doc.getMap('_blobRegistry')
  assert(arr.includes('from-rw') && !arr.includes('ro-before') && !arr.includes('ro-after'), `no read-only edit stored: ${JSON.stringify(arr)}`)
  assert(reg.has(hashRef(blob.hash)), 'the read-only delete of a registry entry did not land')
  assert(reg.size === 1 && !reg.has(evilRef), `no read-only registry write landed: ${JSON.stringify([...reg.keys()])}`)
  assert(!w.doc.getArray('a').toArray().some(x => String(x).startsWith('ro-')), 'nor was one broadcast')
  for (const c of [w, ro, probe]) c.destroy()

  // --- Peer privileges need a peer token. `_mesh` lists every room.
  await expectClose(s, '_mesh', 4403, { token: STATIC }, 'a static client token on _mesh')
  await expectClose(s, '_mesh', 4403, { token: roomToken({ rooms: ['*'] }) }, 'a room token for * on _mesh')
  await expectClose(s, '_mesh', 4403, { token: STATIC, headers: { 'User-Agent': 'blobsync-mesh/1' } }, 'a forged User-Agent on _mesh')
  assert((await outcome(s, '_mesh', { token: PEER })).code === 'open', 'the peer token opens _mesh')

  // A forged User-Agent does not turn off the chunk re-check: a stored blob
  // damaged on disk gets the client an error from the server, never bad bytes.
  const big = testBytes(300_000)  // two chunks; the damage is in the second
  const bigBlob = memoryBlob(big)
  const ub = await BlobClient.connect(s.url, 'ua', { query: `?token=${STATIC}` })
  await ub.upload(bigBlob)
  ub.close()
  const hex = Buffer.from(bigBlob.hash).toString('hex')
  flipByte(path.join(s.dataDir, 'blobs', hex.slice(0, 2), hex), 280_000)
  const forged = await BlobClient.connect(s.url, 'ua', { query: `?token=${STATIC}`, headers: { 'User-Agent': 'blobsync-mesh/1' } })
  err = null
  try { await forged.download(bigBlob.hash) } catch (e) { err = e }
  forged.close()
  assert(err instanceof BlobError, `the server refuses the damaged chunk itself (got ${err ? err.message : 'the blob'})`)
  const again = await BlobClient.connect(s.url, 'ua', { query: `?token=${STATIC}` })
  const [have] = await again.have([bigBlob.hash])
  again.close()
  assert(!have, 'and quarantined it: HAVE now says no')

  // --- tokens_not_before revokes every token issued earlier.
  const cut = now() - 30
  const s2 = await new Server(tmpDir('tokens-nbf'), ['--no-fsync', '--room-token-secret', ROOM_SECRET, '--tokens-not-before', String(cut)]).start()
  servers.push(s2)
  r = await expectClose(s2, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], iat: cut - 1 }) }, 'a token issued before tokens_not_before')
  assert(/revoked/.test(r.reason), `the close reason says revoked (${r.reason})`)
  assert((await outcome(s2, 'room-a', { token: roomToken({ rooms: ['room-a'], iat: cut }) })).code === 'open', 'a token issued at tokens_not_before')
  const iso = new Date(cut * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
  const s3 = await new Server(tmpDir('tokens-nbf-iso'), ['--no-fsync', '--room-token-secret', ROOM_SECRET, '--tokens-not-before', iso]).start()
  servers.push(s3)
  await expectClose(s3, 'room-a', 4401, { token: roomToken({ rooms: ['room-a'], iat: cut - 1 }) }, `tokens_not_before as ${iso}`)

  // --- peer_tokens: what is accepted from peers, apart from what is presented.
  const s4 = await new Server(tmpDir('tokens-peers'), ['--no-fsync', '--token', STATIC, '--peer-token', 'presented-token',
    '--peer-tokens', 'accepted-1,accepted-2']).start()
  servers.push(s4)
  assert((await outcome(s4, '_mesh', { token: 'accepted-2' })).code === 'open', 'a token of peer_tokens opens _mesh')
  await expectClose(s4, '_mesh', 4403, { token: 'presented-token' }, 'peer_token is only presented once peer_tokens is set')
  await expectClose(s4, 'room-a', 4401, { token: 'presented-token' }, 'nor is it a client token')

  // --- blobsync token create: the secret of a data directory (generated by
  // the server, mode 0600) or of a config file; clear errors.
  const dir = tmpDir('tokens-cli')
  const s5 = await new Server(dir, ['--no-fsync', '--require-token', 'true']).start()
  servers.push(s5)
  const keyFile = path.join(dir, 'room_token.secret')
  assert((fs.statSync(keyFile).mode & 0o777) === 0o600, `room_token.secret is mode 0600 (${(fs.statSync(keyFile).mode & 0o777).toString(8)})`)
  await expectClose(s5, 'cli/x', 4401, {}, 'sync_require_token with no static token: a token is needed')
  const cli = (...args) => spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, BLOBSYNC_DATA: '' } })
  let out = cli('token', 'create', '--data', dir, '--room', 'cli/*', '--room', 'other', '--read-only', '--ttl', '2h')
  assert(out.status === 0, `token create: ${out.stderr}`)
  const made = out.stdout.trim()
  const [h64, p64] = made.split('.')
  const header = JSON.parse(Buffer.from(h64, 'base64url'))
  const claims = JSON.parse(Buffer.from(p64, 'base64url'))
  assert(header.alg === 'HS256' && header.typ === 'blobsync-room+jwt', `header ${JSON.stringify(header)}`)
  assert(claims.aud === 'blobsync:room' && claims.scope === 'read' && claims.exp - claims.iat === 7200 &&
    JSON.stringify(claims.rooms) === '["cli/*","other"]', `claims ${JSON.stringify(claims)}`)
  assert(Math.abs(claims.iat - now()) < 60, 'iat is now')
  const cb = await BlobClient.connect(s5.url, 'cli/a/b', { query: `?token=${made}` })
  err = null
  try { await cb.upload(memoryBlob(testBytes(100))) } catch (e) { err = e }
  cb.close()
  assert(err && err.code === 'FORBIDDEN', `the CLI's read-only token reads, never uploads (${err && err.message})`)
  await expectClose(s5, 'nope', 4403, { token: made }, 'the CLI token on a room it does not name')
  out = cli('token', 'create', '--data', dir, '--room', 'cli/x')
  const rw = out.stdout.trim()
  assert(JSON.parse(Buffer.from(rw.split('.')[1], 'base64url')).exp - now() > 86000, 'default TTL 24 h, scope write')
  const wc = await BlobClient.connect(s5.url, 'cli/x', { query: `?token=${rw}` })
  await wc.upload(memoryBlob(testBytes(100)))
  wc.close()
  // With --config: the configured secret, wherever the data directory is.
  const conf = path.join(tmpDir('tokens-conf'), 'server.toml')
  fs.writeFileSync(conf, `room_token_secret = "${ROOM_SECRET}"\n`)
  out = cli('token', 'create', '--config', conf, '--data', '/nonexistent/blobsync-data', '--room', 'room-a')
  assert(out.status === 0, `token create --config: ${out.stderr}`)
  assert((await outcome(s, 'room-a', { token: out.stdout.trim() })).code === 'open', 'a --config token opens the server with that secret')
  // --sub and --quota (docs/security.md, "Quotas"): a quota the server enforces.
  out = cli('token', 'create', '--data', dir, '--room', 'cli/q', '--sub', 'user-7', '--quota', '150')
  assert(out.status === 0, `token create --sub --quota: ${out.stderr}`)
  const quotaClaims = JSON.parse(Buffer.from(out.stdout.trim().split('.')[1], 'base64url'))
  assert(quotaClaims.sub === 'user-7' && quotaClaims.quota === 150, `sub and quota claims ${JSON.stringify(quotaClaims)}`)
  const qc = await BlobClient.connect(s5.url, 'cli/q', { query: `?token=${out.stdout.trim()}` })
  await qc.upload(memoryBlob(testBytes(100)))
  err = null
  try { await qc.upload(memoryBlob(testBytes(100))) } catch (e) { err = e }
  qc.close()
  assert(err && err.code === 'QUOTA_EXCEEDED', `the --quota token is held to 150 bytes (${err && err.message})`)
  out = cli('token', 'create', '--data', dir, '--room', 'x', '--quota', 'lots')
  assert(out.status === 2 && /--quota/.test(out.stderr), `a bad --quota: exit 2 naming it (${out.status} ${out.stderr})`)
  out = cli('token', 'create', '--data', dir, '--room', 'x', '--sub', 'u'.repeat(257))
  assert(out.status === 2 && /--sub/.test(out.stderr), `a --sub over 256 bytes: exit 2 (${out.status} ${out.stderr})`)
  out = cli('token', 'create', '--data', dir, '--room', 'x', '--ttl', 'forever')
  assert(out.status === 2 && /--ttl/.test(out.stderr) && out.stdout === '', `a bad TTL: exit 2 naming --ttl (${out.status} ${out.stderr})`)
  out = cli('token', 'create', '--data', dir, '--room', 'x', '--ttl', '0s')
  assert(out.status === 2, `a zero TTL: exit 2 (${out.status} ${out.stderr})`)
  out = cli('token', 'create', '--data', '/nonexistent/blobsync-data', '--room', 'x')
  assert(out.status === 1 && /room_token_secret/.test(out.stderr) && /nonexistent/.test(out.stderr),
    `no secret and no data dir: exit 1 saying so (${out.status} ${out.stderr})`)
  out = cli('token', 'create', '--data', dir)
  assert(out.status === 2 && /--room/.test(out.stderr), `no --room: usage error (${out.status} ${out.stderr})`)

  // --- Admin endpoints: open on loopback, else the admin token (constant-time compare).
  for (const p of ['/metrics', '/peers']) {
    assert((await httpJson(s, 'GET', p)).status === 200, `${p} is open on loopback`)
  }
  const s6 = await new Server(tmpDir('tokens-admin'), ['--no-fsync', '--admin-loopback', 'false']).start()
  servers.push(s6)
  for (const p of ['/metrics', '/peers']) {
    const none = await httpJson(s6, 'GET', p)
    assert(none.status === 401 && !none.body.includes('blobsync_'), `${p} with admin_loopback=false and no token: 401 (got ${none.status})`)
    assert((await httpJson(s6, 'GET', p, { token: ADMIN_TOKEN + 'x' })).status === 401, `${p}: a wrong admin token is refused`)
    assert((await httpJson(s6, 'GET', p, { token: ADMIN_TOKEN })).status === 200, `${p}: the admin token opens it`)
  }
  out = spawnSync(BIN, ['peers', '--server', `http://${s6.addr}`, '--admin-token', ADMIN_TOKEN], { encoding: 'utf8' })
  assert(out.status === 0 && out.stdout.includes('"peers"'), `blobsync peers --admin-token (${out.status} ${out.stderr})`)
  // From a real non-loopback address, when this machine has one.
  const ext = Object.values(os.networkInterfaces()).flat().find(i => i && i.family === 'IPv4' && !i.internal)
  if (!ext) {
    console.log('# no non-loopback IPv4 address here: the remote-client admin check is skipped')
  } else {
    const [cmd, ...pre] = serverCommand()
    const proc = spawn(cmd, [...pre, '--listen', '0.0.0.0:0', '--data', tmpDir('tokens-remote'), '--access-log', 'off',
      '--admin-token', ADMIN_TOKEN, '--sync-fsync', 'false'], { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      const port = await new Promise((resolve, reject) => {
        let text = ''
        proc.stdout.on('data', d => { text += d; const m = text.match(/listening on \S+:(\d+)/); if (m) resolve(Number(m[1])) })
        proc.on('exit', c => reject(new Error(`server exited ${c}`)))
      })
      const remote = { addr: `${ext.address}:${port}` }
      for (const p of ['/metrics', '/peers']) {
        const none = await httpJson(remote, 'GET', p)
        assert(none.status === 401, `${p} from ${ext.address} without a token: 401 (got ${none.status})`)
        assert((await httpJson(remote, 'GET', p, { token: ADMIN_TOKEN })).status === 200, `${p} from ${ext.address} with the admin token`)
        assert((await httpJson({ addr: `127.0.0.1:${port}` }, 'GET', p)).status === 200, `${p} on loopback of the same server`)
      }
    } finally { proc.kill('SIGKILL') }
  }

  // --- The room-token key must not be the JWT key, wherever each comes from:
  // here the JWT key was generated into the data directory and its line is
  // given as room_token_secret (whoever mints room tokens could then mint
  // ATProto sessions).
  const shared = tmpDir('tokens-same-key')
  const first = await new Server(shared, ['--no-fsync']).start()
  await first.kill('SIGKILL')  // jwt.secret is written before the server listens
  const jwtLine = fs.readFileSync(path.join(shared, 'jwt.secret'), 'utf8').split('\n')[0]
  let refusedStart = null
  try { await new Server(shared, ['--no-fsync', '--room-token-secret', jwtLine]).start() } catch (e) { refusedStart = e }
  assert(refusedStart && /room-token key and the JWT key are the same/.test(refusedStart.message),
    `a room key equal to the generated JWT key is refused at start (${refusedStart && refusedStart.message.slice(0, 200)})`)
})
