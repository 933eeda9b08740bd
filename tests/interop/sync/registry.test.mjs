// Registry convergence: two servers host the same room, kept in sync by a
// bridge (one Y.Doc with a y-websocket provider to each server; the real
// server mesh is issue 6). Both store the same blob at the same time; their
// concurrent set()s of the entry are last-writer-wins and drop one holder,
// and reconcile-after-remote-change must bring both back, on both servers.
// Then one server's blob is "lost" (restart after deleting it offline is
// issue 6's job); here: a third blob uploaded only to B ends with B alone.
import { Server, client, until, assert, main, tmpDir, Y } from './harness.mjs'
import { BlobClient, memoryBlob, testBytes, hashRef } from './blobclient.mjs'

main('registry: concurrent announces converge to both holders', async servers => {
  // `blobsync serve` runs the mesh; replication "all" would copy B's blob to
  // A once A sees the entry and make A a holder too. This test is about
  // announces alone.
  const onDemand = ['--replication', 'on-demand']
  const a = await new Server(tmpDir('regA'), onDemand).start()
  const b = await new Server(tmpDir('regB'), onDemand).start()
  servers.push(a, b)
  const room = 'shared'
  const bridgeDoc = new Y.Doc()
  const bridgeA = client(a.url, room, { doc: bridgeDoc })
  const bridgeB = client(b.url, room, { doc: bridgeDoc })
  await Promise.all([bridgeA.synced, bridgeB.synced])

  for (let round = 0; round < 3; round++) {
    const blob = memoryBlob(testBytes(300000 + round))
    const key = hashRef(blob.hash)
    const [ca, cb] = await Promise.all([BlobClient.connect(a.url, room), BlobClient.connect(b.url, room)])
    // Rounds 0-1: the bridge is down during the uploads, so both servers set
    // the entry without seeing each other: a guaranteed last-writer-wins
    // conflict once the bridge is back. Round 2: bridge up, racing.
    if (round < 2) { bridgeA.provider.disconnect(); bridgeB.provider.disconnect() }
    const [ra, rb] = await Promise.all([ca.upload(blob), cb.upload(blob)]) // at the same time
    assert(ra.done && rb.done, 'both uploads stored')
    if (round < 2) { bridgeA.provider.connect(); bridgeB.provider.connect() }
    // Observers connected to each server separately.
    const oa = client(a.url, room)
    const ob = client(b.url, room)
    await Promise.all([oa.synced, ob.synced])
    const both = o => {
      const e = o.doc.getMap('_blobRegistry').get(key)
      return e && e.holders.includes(a.url) && e.holders.includes(b.url) && e.holders.length === 2
    }
    await until(() => both(oa) && both(ob), `round ${round}: registry converges to both holders on both servers`)
    ca.close(); cb.close(); oa.destroy(); ob.destroy()
  }

  const only = memoryBlob(testBytes(123456))
  const cb = await BlobClient.connect(b.url, room)
  await cb.upload(only)
  const oa = client(a.url, room)
  await oa.synced
  await until(() => JSON.stringify(oa.doc.getMap('_blobRegistry').get(hashRef(only.hash))?.holders) === JSON.stringify([b.url]),
    () => `a blob held by B only lists B only, as seen through A (A shows ${JSON.stringify(oa.doc.getMap('_blobRegistry').get(hashRef(only.hash)))})`)
  cb.close(); oa.destroy()
  bridgeA.provider.destroy(); bridgeB.provider.destroy()
})
