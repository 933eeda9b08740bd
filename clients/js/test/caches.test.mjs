// The BlobCache implementations against one contract (IndexedDbBlobCache on
// fake-indexeddb, an in-memory IndexedDB for Node), and a provider on each
// moving a blob through a real server.
import 'fake-indexeddb/auto'
import test from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { scope, randomBytes, sha256hex, blobBytes, FsBlobCache, CHUNK } from './harness.mjs'
import { IndexedDbBlobCache, MemoryBlobCache } from '../dist/index.js'

const sha = b => crypto.createHash('sha256').update(b).digest()
let dbs = 0
const kinds = {
  memory: () => new MemoryBlobCache(),
  fs: (t, s) => new FsBlobCache(s.dir()),
  indexeddb: () => new IndexedDbBlobCache(`blobsync-test-${++dbs}`)
}

for (const [kind, make] of Object.entries(kinds)) {
  test(`BlobCache contract: ${kind}`, async t => {
    const s = scope(t)
    const cache = make(t, s)
    t.after(() => cache.close?.())
    const data = randomBytes(2 * CHUNK + 100)
    const parts = [data.subarray(0, CHUNK), data.subarray(CHUNK, 2 * CHUNK), data.subarray(2 * CHUNK)]
    const hash = 'sha256:' + sha256hex(data)
    assert.equal(await cache.stat(hash), null)
    assert.equal(await cache.openPartial(hash), null)

    // A staged put: size unknown, chunks written concurrently, then completed under its hash.
    await cache.createPartial('staging:a1', null)
    await Promise.all(parts.map((p, i) => cache.writeChunk('staging:a1', i, p)))
    const staged = await cache.openPartial('staging:a1')
    assert.equal(staged.present[0] & 0b111, 0b111)
    assert.deepEqual(await cache.readChunk('staging:a1', 1, CHUNK), parts[1])
    const chunkHashes = new Uint8Array(Buffer.concat(parts.map(sha)))
    const info = { size: data.length, mimeType: 'application/octet-stream', filename: 'x.bin', chunkCount: 3 }
    await cache.complete('staging:a1', hash, { ...info, chunkHashes })
    const st = await cache.stat(hash)
    assert.deepEqual({ ...st, chunkHashes: undefined }, { ...info, chunkHashes: undefined })
    assert.deepEqual(new Uint8Array(st.chunkHashes), chunkHashes)
    assert.equal(await cache.openPartial(hash), null, 'complete is not partial')
    assert.equal(await cache.openPartial('staging:a1'), null, 'the staging key is gone')
    assert.deepEqual(await cache.readChunk(hash, 2, 100), parts[2])

    // Completing a blob that is already complete drops the new staging entry.
    await cache.createPartial('staging:b2', null)
    await cache.writeChunk('staging:b2', 0, parts[0])
    await cache.complete('staging:b2', hash, { ...info, filename: 'other' })
    assert.equal((await cache.stat(hash)).filename, 'x.bin')
    assert.equal(await cache.openPartial('staging:b2'), null)

    // A partial download keeps its chunks and info.
    const other = randomBytes(CHUNK * 3)
    const oh = 'sha256:' + sha256hex(other)
    await cache.createPartial(oh, { size: other.length, mimeType: '', filename: '', chunkCount: 3 })
    await cache.writeChunk(oh, 2, other.subarray(2 * CHUNK))
    const partial = await cache.openPartial(oh)
    assert.equal(partial.info.size, other.length)
    assert.equal(partial.present[0], 0b100)
    assert.equal(await cache.stat(oh), null)

    await cache.delete(hash)
    await cache.delete(oh)
    assert.equal(await cache.stat(hash), null)
    assert.equal(await cache.openPartial(oh), null)
  })
}

test('FsBlobCache: a partial download survives a new instance on the same directory', async t => {
  const s = scope(t)
  const dir = s.dir()
  const a = new FsBlobCache(dir)
  const other = randomBytes(CHUNK + 1)
  const oh = 'sha256:' + sha256hex(other)
  await a.createPartial(oh, { size: other.length, mimeType: '', filename: '', chunkCount: 2 })
  await a.writeChunk(oh, 1, other.subarray(CHUNK))
  await a.close()
  const b = new FsBlobCache(dir)
  const p = await b.openPartial(oh)
  assert.equal(p.present[0], 0b10)
  await b.writeChunk(oh, 0, other.subarray(0, CHUNK))
  assert.deepEqual(await b.readChunk(oh, 0, CHUNK), other.subarray(0, CHUNK))
  assert.deepEqual(await b.readChunk(oh, 1, 1), other.subarray(CHUNK))
  assert.equal((await b.openPartial(oh)).present[0], 0b11)
  await b.close()
  await assert.rejects(b.readChunk('../../etc/passwd', 0, 1), /invalid key/)
})

test('a provider on each cache moves a blob through a server', async t => {
  const s = scope(t)
  const server = await s.server()
  const up = s.provider(server.url, 'caches', { cache: new IndexedDbBlobCache('blobsync-up') })
  const down = s.provider(server.url, 'caches', { cache: new MemoryBlobCache() })
  await Promise.all([up.whenSynced, down.whenSynced])
  const data = randomBytes(3 * CHUNK + 9)
  const ref = await up.putBlob(new Blob([data]))
  assert.equal(await up.hasBlob(ref.hash), true)
  assert.equal(sha256hex(await blobBytes(await up.getBlob(ref.hash))), sha256hex(data), 'from the IndexedDB cache')
  assert.equal(sha256hex(await blobBytes(await down.getBlob(ref.hash))), sha256hex(data), 'through the server')
  const idbDown = s.provider(server.url, 'caches', { cache: new IndexedDbBlobCache('blobsync-down') })
  assert.equal(sha256hex(await blobBytes(await idbDown.getBlob(ref.hash))), sha256hex(data), 'into IndexedDB')
})
