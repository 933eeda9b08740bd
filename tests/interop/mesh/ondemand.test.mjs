// Replication on demand and replicate-on-fetch: servers that only fetch
// what clients ask for. A client asking B for a blob only A holds gets it
// (B fetches it from A and streams it on, then lists itself); with A
// SIGKILLed, a client asking C gets it too (C skips the dead holder); a
// server configured without replicate-on-fetch answers NOT_FOUND.
import { startMesh, until, assert, main, client, meshUp, BlobClient, memoryBlob, testBytes, holds, registryEntry, sameSet } from './mesh_harness.mjs'

const room = 'lazy'

async function download (server, blob) {
  const c = await BlobClient.connect(server.url, room)
  try { return await c.download(blob.hash) } finally { c.close() }
}

main('mesh on-demand: replicate on fetch, failover to a live holder', async servers => {
  const [a, b, c, d] = await startMesh(servers, 4, {
    tag: 'lazy', args: i => ['--replication', 'on-demand', ...(i === 3 ? ['--no-replicate-on-fetch'] : [])]
  })
  const w = client(a.url, room)
  await w.synced
  await until(() => meshUp(servers), 'mesh up')
  const blob = memoryBlob(testBytes(3 << 20))
  const up = await BlobClient.connect(a.url, room)
  assert((await up.upload(blob)).done, 'uploaded to A')
  up.close()
  await until(async () => sameSet((await registryEntry(c, room, blob.hash))?.holders || [], [a.url]), 'C sees A listed')
  assert(!(await holds(b, room, blob.hash)) && !(await holds(c, room, blob.hash)), 'on-demand servers did not fetch by themselves')

  // D does not replicate on fetch.
  const err = await download(d, blob).then(() => null, e => e)
  assert(err && err.code === 'NOT_FOUND', `D answers NOT_FOUND (${err})`)

  // B fetches from A while the client waits, then serves it.
  const got = await download(b, blob)
  assert(got.data.length === blob.size, 'the client on B got the whole, verified blob')
  assert(await holds(b, room, blob.hash), 'B stored it')
  await until(async () => sameSet((await registryEntry(c, room, blob.hash))?.holders || [], [a.url, b.url]),
    'B listed itself')

  // A dies; C still lists A (stale) and B; a client on C gets the blob.
  await a.kill('SIGKILL')
  const again = await download(c, blob)
  assert(again.data.length === blob.size, 'the client on C got it with A dead')
  await until(async () => sameSet((await registryEntry(c, room, blob.hash))?.holders || [], [a.url, b.url, c.url]),
    'C listed itself (A stays listed until pruned)')
  w.destroy()
})
