// Background replication (replication = all): a blob uploaded to A is
// stored on B and C and all three are listed as holders; /peers and
// /metrics report the peers up; a client on C gets it with A SIGKILLed.
import { startMesh, until, assert, main, BlobClient, memoryBlob, testBytes, holds, registryEntry, sameSet, peersReport, httpGet, meshUp, client } from './mesh_harness.mjs'

main('mesh replication: a blob uploaded to A reaches B and C', async servers => {
  const [a, b, c] = await startMesh(servers, 3, { tag: 'repl' })
  const room = 'photos'
  // A document client on A creates the room; the mesh spreads it.
  const writer = client(a.url, room)
  await writer.synced
  await until(() => meshUp(servers), 'every link up and synced')

  const blob = memoryBlob(testBytes(1 << 20))
  const up = await BlobClient.connect(a.url, room)
  const r = await up.upload(blob)
  assert(r.done, 'upload acknowledged by A')
  up.close()

  await until(async () => (await holds(b, room, blob.hash)) && (await holds(c, room, blob.hash)),
    'B and C hold the blob')
  const all = [a.url, b.url, c.url]
  for (const s of [a, b, c]) {
    await until(async () => sameSet((await registryEntry(s, room, blob.hash))?.holders || [], all),
      `registry seen through ${s.url} lists A, B and C`)
  }

  const report = await peersReport(a)
  assert(report.peers.length === 2 && report.peers.every(p => p.state === 'up'), 'A reports both peers up')
  const metrics = (await httpGet(b, '/metrics')).body
  assert(metrics.includes(`blobsync_mesh_peer_up{peer="${a.url}"} 1`), 'B exports peer_up for A')
  assert(/blobsync_mesh_blobs_replicated_total [1-9]/.test(metrics), 'B counts replicated blobs')

  // A dies; a client connected to C downloads from C.
  await a.kill('SIGKILL')
  const dl = await BlobClient.connect(c.url, room)
  const got = await dl.download(blob.hash)
  assert(got.data.length === blob.size, 'the whole blob (hash-verified) from C with A dead')
  dl.close()
  writer.destroy()
})
