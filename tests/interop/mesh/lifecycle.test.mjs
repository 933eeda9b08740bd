// Lifecycle: a clean shutdown (SIGTERM) removes the server from the
// registry and its peers have that change before it exits; a restart
// re-announces what it holds; after a crash (SIGKILL) the stale holder is
// pruned by the others (prune rule: unreachable for --prune-after-ms and a
// verified copy held), and re-adds itself when it comes back.
import { startMesh, until, assert, main, client, meshUp, BlobClient, memoryBlob, testBytes, registryEntry, sameSet } from './mesh_harness.mjs'

const room = 'archive'
const holdersVia = async (s, hash) => (await registryEntry(s, room, hash))?.holders || []

main('mesh lifecycle: withdraw on shutdown, re-announce, prune after crash', async servers => {
  const [a, b, c] = await startMesh(servers, 3, {
    tag: 'life', args: () => ['--prune-after-ms', '2000', '--probe-interval-ms', '300']
  })
  const w = client(a.url, room)
  await w.synced
  await until(() => meshUp(servers), 'mesh up')
  const blob = memoryBlob(testBytes(400000))
  const up = await BlobClient.connect(a.url, room)
  assert((await up.upload(blob)).done, 'uploaded to A')
  up.close()
  const all = [a.url, b.url, c.url]
  for (const s of [a, b, c]) await until(async () => sameSet(await holdersVia(s, blob.hash), all), `all listed via ${s.url}`)

  // Clean shutdown of B: by the time it exited, A and C have the withdrawal.
  const exit = await (async () => { b.proc.kill('SIGTERM'); return b.exited })()
  assert(exit.code === 0, `B exited cleanly (${JSON.stringify(exit)})`)
  for (const s of [a, c]) {
    const holders = await holdersVia(s, blob.hash) // no waiting: it must already be there
    assert(sameSet(holders, [a.url, c.url]), `right after B's exit, ${s.url} lists A and C only: ${holders}`)
  }

  // Restart: B still holds the blob and announces itself again.
  await b.start(b.meshPort)
  for (const s of [a, b, c]) await until(async () => sameSet(await holdersVia(s, blob.hash), all), `B back via ${s.url}`)

  // Crash of C: listed until pruned by the survivors.
  await c.kill('SIGKILL')
  assert((await holdersVia(a, blob.hash)).includes(c.url), 'a crashed holder stays listed at first')
  for (const s of [a, b]) {
    await until(async () => sameSet(await holdersVia(s, blob.hash), [a.url, b.url]), `C pruned via ${s.url}`, 60000)
  }
  // C comes back and re-adds itself (it still holds the blob).
  await c.start(c.meshPort)
  for (const s of [a, b, c]) await until(async () => sameSet(await holdersVia(s, blob.hash), all), `C back via ${s.url}`)
  w.destroy()
})
