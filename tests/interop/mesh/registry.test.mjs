// The registry converges to the true holder sets after concurrent
// announces (simultaneous uploads of one blob to several servers) and
// removals (blobs deleted from some servers while others announce), seen
// through every server. Servers replicate on demand only, so the holder
// sets are exactly what the test uploads and deletes.
import { startMesh, until, assert, main, client, meshUp, ADMIN_TOKEN, BlobClient, memoryBlob, testBytes, registryEntry, sameSet } from './mesh_harness.mjs'
import http from 'node:http'

const room = 'reg'

function del (server, blob) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method: 'DELETE',
      path: '/blobs/sha256:' + Buffer.from(blob.hash).toString('hex'),
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, res => {
      res.resume()
      res.on('end', () => res.statusCode === 200 ? resolve() : reject(new Error(`DELETE: ${res.statusCode}`)))
    })
    req.on('error', reject)
    req.end()
  })
}

async function upload (server, blob) {
  const c = await BlobClient.connect(server.url, room)
  try { assert((await c.upload(blob)).done, 'upload acknowledged') } finally { c.close() }
}

main('mesh registry: concurrent announces and removals converge', async servers => {
  const [a, b, c] = await startMesh(servers, 3, { tag: 'reg', args: () => ['--replication', 'on-demand'] })
  const w = client(a.url, room)
  await w.synced
  await until(() => meshUp(servers), 'mesh up')

  for (let round = 0; round < 3; round++) {
    const x = memoryBlob(testBytes(300000 + round))
    const y = memoryBlob(testBytes(200000 + round))
    const z = memoryBlob(testBytes(100000 + round))
    // Concurrent announces of one key from every server.
    await Promise.all([upload(a, x), upload(b, x), upload(c, x), upload(a, y), upload(b, y), upload(c, z)])
    // Concurrent removals and announces of the same keys.
    await Promise.all([del(b, x), del(a, y), upload(a, z), upload(b, z), del(c, z)])
    const expected = [[x, [a.url, c.url]], [y, [b.url]], [z, [a.url, b.url]]]
    for (const s of [a, b, c]) {
      for (const [blob, holders] of expected) {
        await until(async () => sameSet((await registryEntry(s, room, blob.hash))?.holders || [], holders),
          `round ${round}: via ${s.url} the entry lists exactly ${holders}`)
      }
    }
  }
  w.destroy()
})
