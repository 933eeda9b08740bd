// Room tokens: sent as ?token= (to the connected server and to other
// holders); a refused token ends the provider with the server's reason
// instead of reconnecting forever.
import test from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { scope, randomBytes, sha256hex, blobBytes } from './harness.mjs'

const SECRET = 'a-room-token-secret-of-at-least-32-characters'
const b64 = o => Buffer.from(JSON.stringify(o)).toString('base64url')
function roomToken (rooms, scope = 'write') {
  const iat = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'HS256', typ: 'blobsync-room+jwt' })}.${b64({ aud: 'blobsync:room', rooms, scope, iat, exp: iat + 600 })}`
  return `${input}.${crypto.createHmac('sha256', SECRET).update(input).digest('base64url')}`
}

test('room tokens: a valid one works, a refused one rejects whenSynced and putBlob with the reason', async t => {
  const s = scope(t)
  const server = await s.server(['--sync-require-token', 'true', '--room-token-secret', SECRET])
  const p = s.provider(server.url, 'team/notes', { token: roomToken(['team/*']) })
  await p.whenSynced
  const data = randomBytes(300000)
  const ref = await p.putBlob(data)
  const reader = s.provider(server.url, 'team/notes', { token: roomToken(['team/*'], 'read') })
  assert.equal(sha256hex(await blobBytes(await reader.getBlob(ref.hash))), sha256hex(data))
  await assert.rejects(reader.putBlob(randomBytes(10)), e => e.code === 'FORBIDDEN')

  const statuses = []
  const other = s.provider(server.url, 'team/notes', { token: roomToken(['elsewhere/*']) })
  other.on('status', e => statuses.push(e.status))
  await assert.rejects(other.whenSynced, /refused the connection to .*team\/notes \(4403/)
  await assert.rejects(other.putBlob(randomBytes(10)), /4403/)
  const none = s.provider(server.url, 'team/notes')
  await assert.rejects(none.whenSynced, /\(4401/)
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.equal(statuses.filter(x => x === 'connecting').length, 1, `no reconnect after a refusal (${statuses})`)
})
