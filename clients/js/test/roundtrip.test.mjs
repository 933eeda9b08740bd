// putBlob/getBlob round trips through a real server, at the chunk boundaries
// (0 B, 1 B, 256 KiB, 256 KiB + 1) and 50 MB, each fetched by a second
// provider with its own cache (so the bytes really cross the blob channel).
import test from 'node:test'
import assert from 'node:assert/strict'
import { scope, randomBytes, sha256hex, blobBytes, CHUNK } from './harness.mjs'

test('round trips at the chunk boundaries and 50 MB', async t => {
  const s = scope(t)
  const server = await s.server()
  const a = s.provider(server.url, 'rt')
  const b = s.provider(server.url, 'rt')
  await Promise.all([a.whenSynced, b.whenSynced])
  for (const size of [0, 1, CHUNK, CHUNK + 1, 50_000_000]) {
    const data = randomBytes(size)
    const ref = await a.putBlob(data, { filename: `f${size}.bin` })
    assert.equal(ref.hash, 'sha256:' + sha256hex(data))
    assert.equal(ref.size, size)
    assert.equal(ref.chunkCount, Math.ceil(size / CHUNK))
    assert.equal(ref.filename, `f${size}.bin`)
    assert.equal(await a.hasBlob(ref.hash), true)
    assert.equal(await b.hasBlob(ref.hash), false)
    const blob = await b.getBlob(ref.hash)
    assert.ok(blob, `size ${size}: getBlob gave null`)
    assert.equal(blob.size, size)
    const got = await blobBytes(blob)
    assert.equal(sha256hex(got), sha256hex(data), `size ${size}: bytes differ`)
    assert.equal(await b.hasBlob(ref.hash), true)
  }
})
