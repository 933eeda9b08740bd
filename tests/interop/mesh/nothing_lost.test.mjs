// Nothing is lost: rounds of uploads and edits on every server while one
// server is SIGKILLed (and restarted) and another frozen (SIGSTOP/SIGCONT).
// After healing, every blob acknowledged to any client is stored on every
// server, and every edit of every client (the editors stay connected and
// resync when their server returns) is seen through every server; the keys
// that observers saw on some server during the run are a subset of that.
import { startMesh, until, assert, main, client, meshUp, BlobClient, memoryBlob, testBytes, holds } from './mesh_harness.mjs'

const room = 'ledger'
const rounds = Number(process.env.MESH_ROUNDS || 6)

async function tryUpload (server, blob) {
  try {
    const c = await BlobClient.connect(server.url, room)
    const lost = c.closed.then(() => { throw new Error('connection lost') })
    try { return (await Promise.race([c.upload(blob), lost])).done === true } finally { c.close() }
  } catch { return false } // a server killed mid-upload acknowledged nothing
}

main('mesh nothing lost: acknowledged blobs and edits survive kills and freezes', async servers => {
  const mesh = await startMesh(servers, 3, { tag: 'lost' })
  const editors = mesh.map(s => client(s.url, room))
  const observers = mesh.map(s => client(s.url, room))
  await Promise.all([...editors, ...observers].map(e => e.synced))
  await until(() => meshUp(servers), 'mesh up')
  const seen = new Set() // keys some server had (an observer of it got them)
  observers.forEach(o => o.doc.getMap('m').observe(ev => ev.keysChanged.forEach(k => seen.add(k))))
  const acked = []
  const edited = []
  const pick = n => Math.floor(Math.random() * n)

  for (let r = 0; r < rounds; r++) {
    const victim = mesh[pick(3)]
    const frozen = mesh.filter(s => s !== victim)[pick(2)]
    const uploads = []
    for (const s of mesh) {
      for (let k = 0; k < 3; k++) {
        const blob = memoryBlob(testBytes(50000 + pick(4000000)))
        uploads.push(tryUpload(s, blob).then(ok => { if (ok) acked.push(blob) }))
      }
    }
    editors.forEach((e, i) => {
      for (let k = 0; k < 10; k++) { const key = `r${r}-s${i}-${k}`; edited.push(key); e.doc.getMap('m').set(key, r) }
    })
    await new Promise(resolve => setTimeout(resolve, pick(400)))
    await victim.kill('SIGKILL') // uploads and edits may be in flight
    process.kill(frozen.pid(), 'SIGSTOP')
    await new Promise(resolve => setTimeout(resolve, 200 + pick(800)))
    process.kill(frozen.pid(), 'SIGCONT')
    await Promise.all(uploads)
    await victim.start(victim.meshPort)
  }
  await until(() => meshUp(servers), 'mesh up after the last round')

  const fresh = mesh.map(s => client(s.url, room))
  await Promise.all(fresh.map(f => f.synced))
  await until(() => fresh.every(f => edited.every(k => f.doc.getMap('m').has(k))),
    'every edit is seen through every server', 120000)
  assert([...seen].every(k => edited.includes(k)), 'observers saw nothing unexpected')
  for (const blob of acked) {
    for (const s of mesh) await until(() => holds(s, room, blob.hash), `acknowledged blob on ${s.url}`, 120000)
  }
  console.log(`# ${acked.length} acknowledged blobs and ${edited.length} edits on all three servers`)
  fresh.forEach(f => f.destroy())
  editors.forEach(f => f.destroy())
  observers.forEach(f => f.destroy())
})
