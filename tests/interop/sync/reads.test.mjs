// Issue 17: blob reads follow rooms. Through a room, only blobs that room's
// _blobRegistry lists are served (REQUEST) or admitted to (HAVE), whatever
// else the server stores; HAVE is bounded per message; a blob a room lists
// again (another room's upload of the same bytes) becomes readable there.
import crypto from 'node:crypto'
import { Server, client, until, assert, main, tmpDir } from './harness.mjs'
import { BlobClient, memoryBlob, hashRef, testBytes } from './blobclient.mjs'

const expectError = async (p, code) => {
  try { await p } catch (e) { assert(e.code === code, `expected ${code}, got ${e.message}`); return e }
  throw new Error(`expected ${code}, got success`)
}

main('reads: blob reads follow the room\'s registry', async servers => {
  const server = await new Server(tmpDir('reads'), []).start()
  servers.push(server)
  const data = testBytes(2 * 262144 + 99)
  const blob = memoryBlob(data)
  const inA = await BlobClient.connect(server.url, 'team-a')
  assert((await inA.upload(blob)).done, 'uploaded in room A')
  const watchA = client(server.url, 'team-a')
  await watchA.synced
  await until(() => watchA.doc.getMap('_blobRegistry').has(hashRef(blob.hash)), 'room A lists the blob')

  // Room A reads it.
  const readerA = await BlobClient.connect(server.url, 'team-a')
  assert((await readerA.download(blob.hash)).data.equals(data), 'room A downloads it')
  assert((await readerA.have([blob.hash]))[0] === true, 'HAVE in room A: held')

  // Room B, which does not list it, gets the answer a missing blob gets.
  const readerB = await BlobClient.connect(server.url, 'team-b')
  const refused = await expectError(readerB.download(blob.hash), 'NOT_FOUND')
  assert(/does not list/.test(refused.message), `NOT_FOUND names the room rule: ${refused.message}`)
  const missing = await expectError(readerB.download(crypto.randomBytes(32)), 'NOT_FOUND')
  assert(missing.code === refused.code, 'same code for unlisted and absent')
  assert((await readerB.have([blob.hash]))[0] === false, 'HAVE in room B: not admitted (no existence oracle)')

  // HAVE is bounded per message (1024 hashes).
  const many = Array.from({ length: 1025 }, () => crypto.randomBytes(32))
  await expectError(readerB.have(many), 'BAD_REQUEST')
  const bits = await readerB.have(many.slice(0, 1024))
  assert(bits.length >= 1024 && bits.slice(0, 1024).every(b => b === false), 'HAVE of 1024 answered')

  // Room B uploads the same bytes: nothing is sent (the server holds them),
  // room B now lists the blob and reads it.
  const upB = await BlobClient.connect(server.url, 'team-b')
  const again = await upB.upload(blob)
  assert(again.done && again.sent === 0, 'dedup: no chunk sent')
  await until(async () => (await readerB.have([blob.hash]))[0] === true, 'room B admitted after listing it')
  assert((await readerB.download(blob.hash)).meta.size === blob.size, 'room B downloads it')
  for (const c of [inA, readerA, readerB, upB]) c.close()
  watchA.destroy()
})
