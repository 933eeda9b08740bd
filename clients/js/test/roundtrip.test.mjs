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

test('putBlob from a ReadableStream and from a Blob; getBlobStream reads chunk by chunk', async t => {
  const s = scope(t)
  const server = await s.server()
  const a = s.provider(server.url, 'kinds')
  const b = s.provider(server.url, 'kinds')
  await Promise.all([a.whenSynced, b.whenSynced])
  const data = randomBytes(3 * CHUNK + 1234)
  // Pieces that never line up with chunks.
  let o = 0
  const stream = new ReadableStream({
    pull (c) {
      if (o >= data.length) return c.close()
      const n = Math.min(100_003, data.length - o)
      c.enqueue(data.slice(o, o + n))
      o += n
    }
  })
  const phases = new Set()
  const fromStream = await a.putBlob(stream, { filename: 's.bin', mimeType: 'application/octet-stream', onProgress: p => phases.add(p.phase) })
  assert.equal(fromStream.hash, 'sha256:' + sha256hex(data))
  assert.equal(fromStream.mimeType, 'application/octet-stream')
  assert.equal(fromStream.filename, 's.bin')
  assert.deepEqual([...phases].sort(), ['store', 'upload'])
  const fromBlob = await a.putBlob(new Blob([data.slice(0, 2 * CHUNK)]))
  assert.equal(fromBlob.hash, 'sha256:' + sha256hex(data.slice(0, 2 * CHUNK)))
  assert.equal(fromBlob.mimeType, 'application/octet-stream')
  // A type the server's MIME rule does not allow: the server's reason, as a BlobSyncError.
  await assert.rejects(a.putBlob(data.slice(0, 10), { mimeType: 'application/x-test' }),
    e => e.code === 'UNSUPPORTED_TYPE' && /application\/x-test/.test(e.message))

  const st = await b.getBlobStream(fromStream.hash)
  const sizes = []
  const parts = []
  for await (const piece of st) { sizes.push(piece.length); parts.push(piece) }
  assert.deepEqual(sizes, [CHUNK, CHUNK, CHUNK, 1234])
  assert.equal(sha256hex(Buffer.concat(parts)), sha256hex(data))
  assert.equal(sha256hex(await blobBytes(await b.getBlob(fromBlob.hash))), sha256hex(data.slice(0, 2 * CHUNK)))
  await assert.rejects(b.getBlob('sha256:xyz'), /not a blob hash/)
})
