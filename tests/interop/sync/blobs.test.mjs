// Blob channel: upload -> registry lists this server -> another client
// downloads; HAVE; NOT_FOUND; corrupted chunk -> HASH_MISMATCH, nothing
// stored; interrupted upload resumes asking only for missing chunks; MIME and
// size policy as HTTP; y-websocket clients never see blob messages.
import crypto from 'node:crypto'
import fs from 'node:fs'
import { Server, client, until, assert, main, tmpDir, rawSocket } from './harness.mjs'
import { BlobClient, memoryBlob, generatedBlob, hashRef, chunkCount, testBytes } from './blobclient.mjs'

const expectError = async (p, code) => {
  try { await p } catch (e) { assert(e.code === code, `expected ${code}, got ${e.message}`); return e }
  throw new Error(`expected ${code}, got success`)
}

main('blobs: upload, registry, download, errors, resume', async servers => {
  const server = await new Server(tmpDir('blobs'), ['--max-blob-bytes', String(64 << 20)]).start()
  servers.push(server)
  const room = 'files'
  const watcher = client(server.url, room)
  const plain = await rawSocket(server.url, room) // a y-websocket-only connection
  await watcher.synced

  // Upload, then the registry (seen by a y-websocket client) lists this server.
  const data = testBytes(3 * 262144 + 12345)
  const blob = memoryBlob(data)
  const up = await BlobClient.connect(server.url, room)
  const res = await up.upload(blob)
  assert(res.done && res.wants.length === 1 && res.wants[0].missing[0][1] === 4, 'WANT asked for all 4 chunks')
  const registry = watcher.doc.getMap('_blobRegistry')
  await until(() => registry.get(hashRef(blob.hash))?.holders?.includes(server.url), 'registry lists the server')
  const entry = registry.get(hashRef(blob.hash))
  assert(entry.size === data.length && entry.chunkCount === 4, 'registry entry size/chunkCount')

  // Another client downloads it (whole and a range).
  const down = await BlobClient.connect(server.url, room)
  const got = await down.download(blob.hash)
  assert(got.data.equals(data) && got.meta.size === data.length && got.meta.chunkCount === 4, 'download matches')
  const part = await down.download(blob.hash, { wanted: [[2, 2]], window: 1 })
  assert(part.data.equals(data.subarray(2 * 262144)), 'ranged download')
  const have = await down.have([blob.hash, crypto.randomBytes(32)])
  assert(have[0] === true && have[1] === false, 'HAVE reply')
  await expectError(down.download(crypto.randomBytes(32)), 'NOT_FOUND')

  // Uploading a held blob: WANT with nothing missing, then DONE.
  const again = await up.upload(blob)
  assert(again.done && again.wants[0].missing.length === 0 && again.sent === 0, 'held blob: nothing sent')

  // Empty blob.
  const empty = memoryBlob(Buffer.alloc(0))
  assert((await up.upload(empty)).done, 'empty blob stored')
  assert((await down.download(empty.hash)).data.length === 0, 'empty blob downloads')

  // A corrupted chunk: HASH_MISMATCH, nothing stored.
  const bad = memoryBlob(testBytes(5 * 262144))
  await expectError(up.upload(bad, { corrupt: 3 }), 'HASH_MISMATCH')
  assert((await down.have([bad.hash]))[0] === false, 'corrupt upload not stored')
  assert(!registry.has(hashRef(bad.hash)), 'corrupt upload not announced')

  // Policy: size limit and MIME (an executable is refused like over HTTP).
  await expectError(up.upload({ ...memoryBlob(Buffer.alloc(10)), size: 65 << 20, chunkHashes: new Array(chunkCount(65 << 20)).fill(Buffer.alloc(32)) }), 'TOO_LARGE')
  const elf = memoryBlob(fs.readFileSync('/bin/ls'), 'application/octet-stream', 'ls')
  await expectError(up.upload(elf), 'UNSUPPORTED_TYPE')
  assert((await down.have([elf.hash]))[0] === false, 'refused type not stored')

  // Interrupted upload resumes with only the missing chunks.
  const big = generatedBlob(24 << 20, 7)
  const c1 = await BlobClient.connect(server.url, room)
  const first = await c1.upload(big, { stopAfter: 40 })
  assert(first.interrupted, 'first attempt interrupted')
  // The server notices the closed socket; a new upload of the same blob may meet BUSY until then.
  let second
  await until(async () => {
    const c2 = await BlobClient.connect(server.url, room)
    try { second = await c2.upload(big); return true } catch (e) { if (e.code !== 'BUSY') throw e; c2.close(); return false }
  }, 'resumed upload accepted')
  const missing = second.wants[0].missing.reduce((n, [, count]) => n + count, 0)
  assert(missing >= 96 - 40 && missing < 96, `resume asked only for missing chunks (${missing} of 96)`)
  assert(second.sent === missing, 'resume sent only the missing chunks')
  assert(!second.wants[0].missing.some(([first]) => first === 0), 'chunk 0 not asked again')
  const back = await down.download(big.hash, { onChunk: () => {} })
  assert(back.chunks === 96, 'resumed blob downloads whole and verified')

  // Nothing of the blob channel ever reached the y-websocket-only connection.
  assert(plain.got.length > 0 && plain.got.every(m => m[0] < 10), 'no blob message to a y-websocket client')
  assert(server.alive(), 'server alive')
  for (const c of [up, down, c1]) c.close()
  watcher.destroy()
  plain.ws.close()
})
