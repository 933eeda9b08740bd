// Issue 17, must-show: the access table of docs/security.md ("Access table"),
// checked cell by cell against the real server. The expected answers are
// read from the document itself, so the table and the server cannot drift:
// every row needs a probe here, every cell an "allowed" or "refused", and
// each probe really tries the operation with that credential.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Server, client, until, assert, main, tmpDir, rawSocket, ADMIN_TOKEN, Y, encoding } from './harness.mjs'
import { BlobClient, memoryBlob, testBytes, hashRef } from './blobclient.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROOM_SECRET = 'access-table-room-secret-0123456789'
const PEER = 'access-table-peer-token-0123'
const ROOM = 'team/notes'
const now = () => Math.floor(Date.now() / 1000)
const b64 = x => Buffer.from(JSON.stringify(x)).toString('base64url')
function roomToken (scope) {
  const input = `${b64({ alg: 'HS256', typ: 'blobsync-room+jwt' })}.${b64({ aud: 'blobsync:room', rooms: ['team/*'], scope, iat: now() - 5, exp: now() + 3600 })}`
  return `${input}.${crypto.createHmac('sha256', ROOM_SECRET).update(input).digest('base64url')}`
}

// The table in docs/security.md: rows of | path | none | ATProto session | ... |.
function readTable () {
  const text = fs.readFileSync(path.join(here, '../../../docs/security.md'), 'utf8')
  const start = text.indexOf('## Access table')
  assert(start >= 0, 'docs/security.md has an "## Access table" section')
  const end = text.indexOf('\n## ', start + 1)
  const lines = text.slice(start, end < 0 ? undefined : end).split('\n').filter(l => l.startsWith('|'))
  const header = lines[0].split('|').slice(2, -1).map(s => s.trim())
  const rows = []
  for (const l of lines.slice(2)) {
    const cells = l.split('|').slice(1, -1).map(s => s.trim())
    rows.push({ path: cells[0], cells: cells.slice(1) })
  }
  return { header, rows }
}

const yMsg = (type, payload) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, type)
  encoding.writeVarUint8Array(e, payload)
  return encoding.toUint8Array(e)
}

main('access table: every cell of docs/security.md against the real server', async servers => {
  const { header, rows } = readTable()
  const common = ['--no-fsync', '--room-token-secret', ROOM_SECRET, '--peer-tokens', PEER, '--require-token', 'true', '--admin-loopback', 'false']
  const open = await new Server(tmpDir('access-open'), common).start()
  const closed = await new Server(tmpDir('access-closed'), [...common, '--blobs-public', 'false']).start()
  servers.push(open, closed)
  const http = s => `http://${s.addr}`

  // An ATProto account on each server.
  const session = async s => {
    const handle = `acc${crypto.randomBytes(3).toString('hex')}.test`
    const r = await fetch(`${http(s)}/xrpc/com.atproto.server.createAccount`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle, email: `${handle}@example.com`, password: 'hunter2' })
    })
    assert(r.status === 200, `createAccount ${r.status}`)
    return r.json()
  }
  const acctOpen = await session(open)
  const acctClosed = await session(closed)
  const creds = s => {
    const acct = s === open ? acctOpen : acctClosed
    return {
      none: undefined,
      'ATProto session': acct.accessJwt,
      'room token (read)': roomToken('read'),
      'room token (write)': roomToken('write'),
      'peer token': PEER,
      'admin token': ADMIN_TOKEN
    }
  }
  const auth = t => t ? { authorization: `Bearer ${t}` } : {}
  const putPlain = async (s, bytes) => {
    const hex = crypto.createHash('sha256').update(bytes).digest('hex')
    const acct = s === open ? acctOpen : acctClosed
    const r = await fetch(`${http(s)}/blobs/${hex}`, { method: 'PUT', body: bytes, headers: auth(acct.accessJwt) })
    assert(r.status === 201, `setup PUT ${r.status}`)
    return hex
  }

  // A blob listed in ROOM (uploaded through the room with a write token).
  const listed = memoryBlob(testBytes(1000))
  {
    const up = await BlobClient.connect(open.url, ROOM, { query: `?token=${roomToken('write')}` })
    assert((await up.upload(listed)).done, 'setup upload')
    up.close()
  }

  // Connects to a room; resolves the socket once greeted, or null when refused.
  const join = async (s, room, token) => {
    let ws
    try { ws = await rawSocket(s.url, room, { query: token ? `?token=${encodeURIComponent(token)}` : '' }) } catch { return null }
    const r = await Promise.race([ws.next(m => m[0] === 0, 0, 'greeting').then(() => 'open'), ws.closed.then(() => 'closed')])
    if (r !== 'open') return null
    return ws
  }
  // Writes through `token`, then asks for sync step 2 on the same socket (so
  // the write was handled, applied or dropped), then looks with a peer.
  const docWrite = async (token, mutate, check) => {
    const ws = await join(open, ROOM, token)
    if (!ws) return false
    const d = new Y.Doc()
    mutate(d)
    ws.send(yMsg(2, Y.encodeStateAsUpdate(d)))
    const mark = ws.got.length
    ws.send(yMsg(0, Y.encodeStateVector(new Y.Doc())))
    await ws.next(m => m[0] === 0 && m[1] === 1, mark, 'sync step 2 after the write')
    ws.ws.close()
    const observer = client(open.url, ROOM, { params: { token: PEER } })
    await observer.synced
    const seen = check(observer.doc)
    observer.destroy()
    return seen
  }
  const blobConn = async (token) => {
    try {
      const c = await BlobClient.connect(open.url, ROOM, { query: token ? `?token=${encodeURIComponent(token)}` : '' })
      const greeted = await Promise.race([until(() => c.yjsMessages > 0, 'greeting', 10000).then(() => true), c.closed.then(() => false)])
      if (!greeted) return null
      return c
    } catch { return null }
  }
  const viaBlob = async (token, fn) => {
    const c = await blobConn(token)
    if (!c) return false
    try { return await Promise.race([fn(c), c.closed.then(() => false)]) } catch { return false } finally { c.close() }
  }

  const probes = {
    'XRPC write (`uploadBlob`)': (s, t) => fetch(`${http(s)}/xrpc/com.atproto.repo.uploadBlob`, {
      method: 'POST', body: crypto.randomBytes(100), headers: { 'content-type': 'application/octet-stream', ...auth(t) }
    }).then(r => r.status === 200),
    'XRPC read (`listBlobs`)': (s, t) => fetch(`${http(s)}/xrpc/com.atproto.sync.listBlobs?did=${encodeURIComponent(acctOpen.did)}`, { headers: auth(t) }).then(r => r.status === 200),
    '`GET /blobs/<hash>` (`blobs_public = true`)': async (s, t) => {
      const hex = await putPlain(s, crypto.randomBytes(100))
      return (await fetch(`${http(s)}/blobs/${hex}`, { headers: auth(t) })).status === 200
    },
    '`GET /blobs/<hash>` (`blobs_public = false`)': async (s, t, name) => {
      const hex = await putPlain(closed, crypto.randomBytes(100))
      return (await fetch(`${http(closed)}/blobs/${hex}`, { headers: auth(creds(closed)[name]) })).status === 200
    },
    '`PUT /blobs/<hash>`': async (s, t) => {
      const bytes = crypto.randomBytes(100)
      const hex = crypto.createHash('sha256').update(bytes).digest('hex')
      return (await fetch(`${http(s)}/blobs/${hex}`, { method: 'PUT', body: bytes, headers: auth(t) })).status === 201
    },
    '`PUT /blobs/<hash>?room=R`': async (s, t) => {
      const bytes = crypto.randomBytes(100)
      const hex = crypto.createHash('sha256').update(bytes).digest('hex')
      const r = await fetch(`${http(s)}/blobs/${hex}?room=${encodeURIComponent(ROOM)}`, { method: 'PUT', body: bytes, headers: auth(t) })
      const body = await r.json()
      return r.status === 201 && body.announced?.room === ROOM
    },
    '`DELETE /blobs/<hash>`': async (s, t) => {
      const hex = await putPlain(s, crypto.randomBytes(100))
      const r = await fetch(`${http(s)}/blobs/${hex}`, { method: 'DELETE', headers: auth(t) })
      return r.status >= 200 && r.status < 300
    },
    'room document, read': async (s, t) => { const ws = await join(s, ROOM, t); if (ws) ws.ws.close(); return ws !== null },
    'room document, write': async (s, t) => {
      const key = crypto.randomBytes(4).toString('hex')
      return docWrite(t, d => d.getMap('notes').set(key, 1), d => d.getMap('notes').has(key))
    },
    'room registry, write': async (s, t) => {
      const key = hashRef(crypto.randomBytes(32))
      return docWrite(t, d => d.getMap('_blobRegistry').set(key, { holders: ['ws://elsewhere.test/sync'], size: 1, chunkCount: 1 }),
        d => d.getMap('_blobRegistry').has(key))
    },
    'blob channel upload': (s, t) => viaBlob(t, async c => (await c.upload(memoryBlob(crypto.randomBytes(500)))).done === true),
    'blob channel read (`REQUEST`)': (s, t) => viaBlob(t, async c => (await c.download(listed.hash)).meta.size === listed.size),
    'blob channel `HAVE`': (s, t) => viaBlob(t, async c => (await c.have([listed.hash]))[0] === true),
    'mesh (the `_mesh` room)': async (s, t) => { const ws = await join(s, '_mesh', t); if (ws) ws.ws.close(); return ws !== null },
    '`/metrics`, `/peers` (not loopback: `admin_loopback = false`)': async (s, t) => {
      const a = await fetch(`${http(s)}/metrics`, { headers: auth(t) })
      const b = await fetch(`${http(s)}/peers`, { headers: auth(t) })
      await a.arrayBuffer(); await b.arrayBuffer()
      return a.status === 200 && b.status === 200
    }
  }

  const names = Object.keys(creds(open))
  assert(JSON.stringify(header) === JSON.stringify(names), `table columns are ${names.join(', ')} (got ${header.join(', ')})`)
  const wrong = []
  let cells = 0
  for (const row of rows) {
    const probe = probes[row.path]
    assert(probe, `no probe for the table row "${row.path}"`)
    for (let i = 0; i < names.length; i++) {
      const want = row.cells[i]
      assert(want === 'allowed' || want === 'refused', `cell "${row.path}" x "${names[i]}" is "${want}"`)
      const got = await probe(open, creds(open)[names[i]], names[i]) ? 'allowed' : 'refused'
      cells++
      if (got !== want) wrong.push(`${row.path} x ${names[i]}: table says ${want}, server ${got}`)
    }
  }
  assert(rows.length === Object.keys(probes).length, `every probe has a row (${rows.length} rows, ${Object.keys(probes).length} probes)`)
  assert(wrong.length === 0, `cells that disagree:\n  ${wrong.join('\n  ')}`)
  console.log(`# ${cells} cells checked`)
})
