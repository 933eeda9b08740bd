// Registry sizes are client claims (issue #15): a client rewrites the
// entries of two blobs A holds, the big one (over B's limit) claiming 1 byte,
// the small one claiming 10 GB. B, joining later, must still replicate
// exactly the small one: it decides from the holder's META, and announces
// the size its own store verified.
import { Server, tmpDir, freePorts, urlOf, until, assert, main, client, BlobClient, memoryBlob, testBytes, hashRef, holds, peersReport, registryEntry } from './mesh_harness.mjs'

main('mesh sizes: a lying registry size does not change what is replicated', async servers => {
  const [portA] = await freePorts(1)
  const a = new Server(tmpDir('sizes-a'), ['--no-fsync', '--rescan-ms', '500'])
  servers.push(a)
  await a.start(portA)
  const room = 'sizes'
  const big = memoryBlob(testBytes(300000))
  const small = memoryBlob(testBytes(1000))
  const up = await BlobClient.connect(a.url, room)
  assert((await up.upload(big)).done, 'big upload acknowledged by A')
  assert((await up.upload(small)).done, 'small upload acknowledged by A')
  up.close()

  const w = client(a.url, room)
  await w.synced
  const reg = w.doc.getMap('_blobRegistry')
  await until(() => reg.get(hashRef(big.hash)) && reg.get(hashRef(small.hash)), 'A announced both blobs')
  reg.set(hashRef(big.hash), { holders: [a.url], size: 1, chunkCount: 1 })
  reg.set(hashRef(small.hash), { holders: [a.url], size: 10e9, chunkCount: 38147 })
  await until(async () => (await registryEntry(a, room, big.hash))?.size === 1 &&
    (await registryEntry(a, room, small.hash))?.size === 10e9, 'A serves the lying entries')
  w.destroy()

  const b = new Server(tmpDir('sizes-b'), ['--no-fsync', '--max-blob-bytes', '280000', '--rescan-ms', '500',
    '--link-backoff-max-ms', '500', '--peer', urlOf(portA)])
  servers.push(b)
  await b.start()
  await until(async () => (await peersReport(b)).blobs_replicated === 1, 'B replicates the small blob despite its claimed 10 GB')
  await until(async () => (await peersReport(b)).blobs_too_large === 1, 'B skips the big blob once A\'s META gave its size')
  assert(await holds(b, room, small.hash), 'B holds the small blob')
  assert(!(await holds(b, room, big.hash)), 'B did not replicate the big blob that claimed 1 byte')
  await until(async () => {
    const e = await registryEntry(b, room, small.hash)
    return e && e.holders.includes(b.url) && e.size === 1000 && e.chunkCount === 1
  }, 'B announces the small blob with the size its store verified')

  // Replicate-on-fetch too: a client asking B for the big blob gets an error, and B still lacks it.
  const c = await BlobClient.connect(b.url, room)
  let err = null
  try { await c.download(big.hash) } catch (e) { err = e }
  c.close()
  assert(err, 'B refuses to fetch the big blob for a client')
  assert(!(await holds(b, room, big.hash)), 'B still lacks the big blob')
  const r = await peersReport(b)
  assert(r.fetch_failures === 0, `too large is not a fetch failure (${r.fetch_failures})`)
  assert(r.blobs_replicated === 1, `B replicated exactly one blob (${r.blobs_replicated})`)
})
