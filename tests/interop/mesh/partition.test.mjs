// A partition heals: B is frozen (SIGSTOP) while clients on A and C edit
// and upload, and B's own clients edit (their messages wait in the kernel);
// after SIGCONT everything converges, B replicates the blob uploaded
// meanwhile, and nothing acknowledged or edited anywhere is lost.
import { startMesh, until, assert, main, client, meshUp, BlobClient, memoryBlob, testBytes, holds, registryEntry, sameSet } from './mesh_harness.mjs'

const room = 'board'
const entries = c => JSON.stringify(Object.entries(c.doc.getMap('m').toJSON()).sort())

main('mesh partition: a frozen server catches up after SIGCONT', async servers => {
  const [a, b, c] = await startMesh(servers, 3, { tag: 'part' })
  const clients = [a, b, c].map(s => client(s.url, room))
  await Promise.all(clients.map(x => x.synced))
  await until(() => meshUp(servers), 'mesh up')

  process.kill(b.pid(), 'SIGSTOP')
  try {
    clients.forEach((x, i) => { for (let k = 0; k < 50; k++) x.doc.getMap('m').set(`p${i}-${k}`, k) })
    const blob = memoryBlob(testBytes(700000))
    const up = await BlobClient.connect(a.url, room)
    assert((await up.upload(blob)).done, 'upload to A acknowledged during the partition')
    up.close()
    await until(() => holds(c, room, blob.hash), 'C replicates while B is frozen')
    await until(() => entries(clients[0]) === entries(clients[2]) && clients[0].doc.getMap('m').has('p2-49'),
      'A and C converge while B is frozen')
    // Hold the partition a while so links notice nothing for some seconds.
    await new Promise(resolve => setTimeout(resolve, 3000))
    process.kill(b.pid(), 'SIGCONT')

    await until(() => holds(b, room, blob.hash), 'B replicates the blob after the partition heals')
    const expected = 150
    await until(() => clients.every(x => x.doc.getMap('m').size === expected && entries(x) === entries(clients[0])),
      'all clients converge with every edit')
    for (const s of [a, b, c]) {
      const f = client(s.url, room)
      await f.synced
      await until(() => f.doc.getMap('m').size === expected, `a fresh client of ${s.url} sees every edit`)
      f.destroy()
      await until(async () => sameSet((await registryEntry(s, room, blob.hash))?.holders || [], [a.url, b.url, c.url]),
        `registry through ${s.url} lists all three holders`)
    }
  } finally {
    try { process.kill(b.pid(), 'SIGCONT') } catch {}
  }
  clients.forEach(x => x.destroy())
})
