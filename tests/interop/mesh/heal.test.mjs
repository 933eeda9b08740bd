// Heal (issue #15, defect 4): a blob replicated to A and B goes bad on B's
// disk. B's scrubber quarantines it; B then answers HAVE "no", REQUEST and
// GET /blobs with errors (never the bad bytes) and stops listing itself as a
// holder, so clients go to A. Once A, which holds a good copy, is reachable,
// B fetches a verified copy from it: B serves the right bytes again, lists
// itself again, its quarantine is cleared and its gauge is back to 0.
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { startMesh, until, assert, main, BlobClient, memoryBlob, testBytes, holds, registryEntry, sameSet, httpGet, meshUp, client } from './mesh_harness.mjs'

const quarantined = async s => {
  const m = (await httpGet(s, '/metrics')).body.match(/^blobsync_store_quarantined_blobs (\d+)$/m)
  return m ? Number(m[1]) : null
}

async function getBytes (s, hex) {
  const res = await fetch(`http://127.0.0.1:${s.port}/blobs/${hex}`)
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) }
}

main('mesh heal: a blob corrupted on B is quarantined there, then healed from A', async servers => {
  const [a, b] = await startMesh(servers, 2, {
    tag: 'heal', args: i => i === 1 ? ['--scrub-rate', '256MiB', '--scrub-interval-ms', '200'] : []
  })
  const room = 'album'
  const writer = client(a.url, room)
  await writer.synced
  await until(() => meshUp(servers), 'both links up and synced')

  const data = testBytes(600_000)
  const blob = memoryBlob(data)
  const hex = Buffer.from(blob.hash).toString('hex')
  const up = await BlobClient.connect(a.url, room)
  assert((await up.upload(blob)).done, 'upload acknowledged by A')
  up.close()
  await until(async () => sameSet((await registryEntry(a, room, blob.hash))?.holders || [], [a.url, b.url]),
    'B replicated the blob and both are listed')
  assert((await getBytes(b, hex)).body.equals(data), 'B serves the replicated blob')
  assert(await quarantined(b) === 0, 'nothing quarantined on B yet')

  // A goes away first, so B cannot heal at once and its quarantined state can be looked at.
  await a.kill('SIGKILL')
  const file = path.join(b.dataDir, 'blobs', hex.slice(0, 2), hex)
  const bytes = fs.readFileSync(file)
  bytes[400_000] ^= 0x01  // chunk 1
  fs.writeFileSync(file, bytes)

  await until(async () => await quarantined(b) === 1, 'B\'s scrubber quarantines the blob')
  const got = await getBytes(b, hex)
  assert(got.status === 503 && !got.body.equals(bytes), `GET on B refuses the bad bytes (${got.status})`)
  assert(JSON.parse(got.body.toString()).error === 'BlobQuarantined', 'with an XRPC error body')
  assert(!(await holds(b, room, blob.hash)), 'HAVE on B says no')
  const dl = await BlobClient.connect(b.url, room)
  let refused = null
  try { await dl.download(blob.hash) } catch (e) { refused = e } finally { dl.close() }
  assert(refused && refused.code === 'NOT_FOUND', `REQUEST on B is an error, not bytes (${refused})`)
  await until(async () => sameSet((await registryEntry(b, room, blob.hash))?.holders || [], [a.url]),
    'B no longer lists itself as a holder (clients go to A)')

  // A comes back: B heals from it.
  await a.start(a.meshPort)
  await until(async () => (await getBytes(b, hex)).body.equals(data), 'B serves the right bytes again')
  assert(fs.readFileSync(file).equals(data), 'the healed file holds the right bytes')
  await until(async () => await quarantined(b) === 0, 'B\'s gauge is back to 0')
  const bin = process.env.BLOBSYNC_MESH_BIN || process.env.BLOBSYNC_SYNC_BIN
  const stat = spawnSync(bin, ['--data', b.dataDir, 'stat', hex], { encoding: 'utf8' })
  assert(stat.status === 0 && JSON.parse(stat.stdout).quarantine === undefined, `quarantine cleared: ${stat.stdout}${stat.stderr}`)
  await until(async () => sameSet((await registryEntry(a, room, blob.hash))?.holders || [], [a.url, b.url]),
    'B lists itself again')
  const again = await BlobClient.connect(b.url, room)
  const fresh = await again.download(blob.hash)
  again.close()
  assert(fresh.data.equals(data), 'a blob-channel download from B is the verified blob')
  assert(/scrub: quarantined sha256:[0-9a-f]{64}: chunk 1 hash mismatch/.test(b.stderr), 'B logged the quarantine')
  assert(/mesh: healed sha256:/.test(b.stderr) || /mesh: replicated sha256:/.test(b.stderr), 'B logged the heal')
  writer.destroy()
})
