// Hostile (issue 18): one Yjs update whose ContentAny is an object with
// 200,000 distinct keys (~2.3 MB, well under the frame limit). Decoding it
// used to cost O(N^2) (a key scan per key: ~50 s of server CPU, the room
// held all that time). Now: an honest client of the same room still syncs
// promptly, before and after a restart (which decodes the stored update
// again), and the server's CPU for it stays small. The bounds are generous
// liveness bounds, not timings.
import fs from 'node:fs'
import { Server, client, until, assert, rawSocket, main, tmpDir, Y, encoding } from '../interop/sync/harness.mjs'

const N = 200000
const LIVENESS_MS = 10000
const CPU_BUDGET_S = 5

// utime + stime of a process, in seconds (Linux /proc).
function cpuSeconds (pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100  // USER_HZ is 100 on Linux
}

function hostileUpdate () {
  const d = new Y.Doc()
  const o = {}
  for (let i = 0; i < N; i++) o['k' + i] = i
  d.getMap('m').set('big', o)
  return Y.encodeStateAsUpdate(d)
}

function syncUpdateMessage (update) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)  // sync
  encoding.writeVarUint(e, 2)  // update
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

// A fresh honest client joins, must sync, and must see `text` (written by
// another honest client) within the liveness bound.
async function honestSyncs (url, room, text, what) {
  const start = Date.now()
  const c = client(url, room)
  try {
    await until(async () => c.provider.synced && c.doc.getText('t').toString() === text, what, LIVENESS_MS)
    return Date.now() - start
  } finally {
    c.destroy()
  }
}

main('hostile object keys', async servers => {
  const server = await new Server(tmpDir('hostile-keys'), ['--no-fsync']).start()
  servers.push(server)
  const room = 'keys'
  const update = hostileUpdate()
  console.log(`# hostile update: ${N} keys, ${update.length} bytes`)

  const writer = client(server.url, room)
  await until(() => writer.provider.synced, 'honest writer synced', LIVENESS_MS)

  const cpuBefore = cpuSeconds(server.pid())
  const evil = await rawSocket(server.url, room)
  evil.send(syncUpdateMessage(update))
  // Right behind it, an honest edit in the same room.
  writer.doc.getText('t').insert(0, 'still here')
  const ms = await honestSyncs(server.url, room, 'still here', 'an honest client syncs the room after the hostile update')
  console.log(`# honest client synced in ${ms} ms`)
  // The hostile update was taken (it is valid), not just skipped.
  await until(() => writer.doc.getMap('m').get('big') !== undefined, 'the object reached the other client', LIVENESS_MS)
  assert(Object.keys(writer.doc.getMap('m').get('big')).length === N, 'all keys arrived')
  const cpu = cpuSeconds(server.pid()) - cpuBefore
  console.log(`# server CPU for the hostile update and the syncs: ${cpu.toFixed(2)} s`)
  assert(cpu < CPU_BUDGET_S, `server CPU ${cpu.toFixed(2)} s >= ${CPU_BUDGET_S} s`)
  evil.ws.close()
  writer.destroy()

  // The stored update is decoded again when the room loads after a restart.
  await server.restart()
  const cpuRestart = cpuSeconds(server.pid())
  const ms2 = await honestSyncs(server.url, room, 'still here', 'an honest client syncs the room after a restart')
  const cpu2 = cpuSeconds(server.pid()) - cpuRestart
  console.log(`# after restart: synced in ${ms2} ms, server CPU ${cpu2.toFixed(2)} s`)
  assert(cpu2 < CPU_BUDGET_S, `server CPU after restart ${cpu2.toFixed(2)} s >= ${CPU_BUDGET_S} s`)
})
