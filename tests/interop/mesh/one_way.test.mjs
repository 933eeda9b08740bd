// One-way peering: A runs with no peers at all and already holds a room
// with blobs and edits; B starts later with only `--peer A`. B must learn
// A's rooms from A's directory room (_mesh), sync the document and
// replicate every blob, and A's clients must see B's edits (the link is
// one socket, used both ways). This is how a new replica joins an existing
// server, and how bench/mesh.sh is set up. B's size limit is lower than A's:
// the one blob over it is skipped, counted in /peers and /metrics.
import { Server, tmpDir, freePorts, urlOf, until, assert, main, BlobClient, memoryBlob, testBytes, holds, client, peersReport, httpGet } from './mesh_harness.mjs'

main('mesh one-way: a server learns the rooms of a peer that does not name it', async servers => {
  const [portA] = await freePorts(1)
  const a = new Server(tmpDir('oneway-a'), ['--no-fsync', '--rescan-ms', '1000'])
  servers.push(a)
  await a.start(portA)

  const rooms = ['album/one', 'album/two']
  const uploaded = []
  for (const room of rooms) {
    const writer = client(a.url, room)
    await writer.synced
    writer.doc.getMap('m').set('from', 'A')
    const up = await BlobClient.connect(a.url, room)
    for (let i = 0; i < 3; i++) {
      const blob = memoryBlob(testBytes((256 << 10) + i))
      const r = await up.upload(blob)
      assert(r.done, `upload ${i} to ${room} acknowledged by A`)
      uploaded.push({ room, hash: blob.hash })
    }
    if (room === rooms[0]) {
      const big = memoryBlob(testBytes(300000))
      assert((await up.upload(big)).done, 'the big upload acknowledged by A')
      rooms.big = big.hash
    }
    up.close()
    writer.destroy()
  }

  const b = new Server(tmpDir('oneway-b'), [
    '--no-fsync', '--max-blob-bytes', '280000', '--link-backoff-max-ms', '1000', '--rescan-ms', '1000', '--peer', urlOf(portA)])
  servers.push(b)
  await b.start()

  // Touch none of B's rooms before it replicated: a client opening a room
  // on B would make B host it, and B must find the rooms by itself.
  await until(async () => (await peersReport(b)).blobs_replicated >= uploaded.length,
    `B replicates all ${uploaded.length} blobs without any client of B`)
  for (const { room, hash } of uploaded) assert(await holds(b, room, hash), `B holds ${hash.slice(0, 12)} of ${room}`)
  await until(async () => (await peersReport(b)).blobs_too_large === 1, 'B reports the one blob over its limit')
  assert(!(await holds(b, rooms[0], rooms.big)), 'B did not replicate the blob over its limit')
  const metrics = (await httpGet(b, '/metrics')).body
  assert(metrics.includes('blobsync_mesh_blobs_too_large 1'), 'B exports blobs_too_large')
  for (const room of rooms) {
    const onB = client(b.url, room)
    await until(() => onB.doc.getMap('m').get('from') === 'A', `B has A's edit in ${room}`)
    onB.doc.getMap('m').set('reply', 'B')
    const onA = client(a.url, room)
    await until(() => onA.doc.getMap('m').get('reply') === 'B', `A gets B's edit in ${room}`)
    onB.destroy(); onA.destroy()
  }
})
