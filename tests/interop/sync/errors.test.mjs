// Malformed and unknown messages get a protocol error reply (y-protocols auth
// message [2,0,"blobsync protocol error: ..."] on the Yjs side, ERROR on the
// blob channel), never a crash, and the room keeps syncing for others.
import { Server, client, until, assert, main, tmpDir, rawSocket, decoding } from './harness.mjs'

const isProtocolError = m => {
  if (m[0] !== 2) return false
  const d = decoding.createDecoder(m)
  decoding.readVarUint(d)
  return decoding.readVarUint(d) === 0 && decoding.readVarString(d).startsWith('blobsync protocol error')
}

const cases = [
  ['empty frame', []],
  ['huge varint type', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
  ['truncated varint', [0x80]],
  ['sync without sub type', [0]],
  ['truncated sync update', [0, 2, 5, 1]],
  ['sync update with huge length', [0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]],
  ['garbage update', [0, 2, 4, 0xde, 0xad, 0xbe, 0xef]],
  ['garbage step 2', [0, 1, 3, 9, 9, 9]],
  ['bad state vector', [0, 0, 3, 5, 1, 2]],
  ['unknown sync sub type', [0, 7, 0]],
  ['garbage awareness', [1, 3, 1, 2, 3]],
  ['awareness with bad JSON', [1, 6, 1, 5, 1, 2, 0x7b, 0x7b]],
  ...[4, 5, 6, 7, 8, 9, 21, 99, 127].map(t => [`unknown type ${t}`, [t, 1, 2, 3]]),
  ['unknown two-byte type', [0x80, 0x01, 0]]
]

main('errors: malformed/unknown messages answered, room unharmed', async servers => {
  const server = await new Server(tmpDir('errors')).start()
  servers.push(server)
  const a = client(server.url, 'room')
  const b = client(server.url, 'room')
  await Promise.all([a.synced, b.synced])
  const raw = await rawSocket(server.url, 'room')
  await raw.next(m => m[0] === 0, 0, 'greeting')

  for (const [name, bytes] of cases) {
    const from = raw.got.length
    raw.send(bytes)
    await raw.next(isProtocolError, from, `protocol error reply for ${name}`)
    a.doc.getArray('x').push([name])
    await until(() => b.doc.getArray('x').toArray().includes(name), `room still syncs after ${name}`)
  }
  // Blob-channel garbage gets a blob ERROR (type 18) with BAD_REQUEST (2).
  for (const bytes of [[10], [11, 1], [12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], [13, 1, 200], [20, 1, 5, 1]]) {
    const from = raw.got.length
    raw.send(bytes)
    const err = await raw.next(m => m[0] === 18, from, `blob ERROR for ${bytes}`)
    const d = decoding.createDecoder(err)
    decoding.readVarUint(d); decoding.readVarUint(d)
    assert(decoding.readVarUint(d) === 2, 'BAD_REQUEST')
  }
  // An ERROR from the peer is never answered (no loops between servers).
  const from = raw.got.length
  raw.send([18, 1, 2, 0])
  raw.send([0, 0, 1, 0]) // then a step 1: its step 2 must be the next thing we get
  const next = await raw.next(() => true, from, 'reply after ERROR')
  assert(next[0] === 0 && next[1] === 1, 'an ERROR got no reply')

  assert(server.alive(), 'server alive')
  const late = client(server.url, 'room')
  await late.synced
  assert(late.doc.getArray('x').length === cases.length, 'late joiner has every edit')
  for (const c of [a, b, late]) c.destroy()
  raw.ws.close()
})
