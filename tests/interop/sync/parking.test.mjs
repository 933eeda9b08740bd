// Parked rooms (docs/architecture.md, "Rooms"): a room whose last client left
// and whose updates are durable parks (observable in /metrics); the next
// client gets exactly the state it had, awareness states of departed clients
// do not come back, joins racing the parking lose nothing, and a restart
// (SIGKILL, or a clean SIGTERM stop) loses nothing that was parked.
import { Server, client, until, assert, main, tmpDir, rawSocket, encoding, decoding } from './harness.mjs'

async function metrics (server) {
  const res = await fetch(`http://${server.addr}/metrics`)
  const text = await res.text()
  const get = name => {
    const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'))
    if (!m) throw new Error(`metric ${name} missing`)
    return Number(m[1])
  }
  return {
    parked: get('blobsync_sync_rooms_parked'),
    loaded: get('blobsync_sync_rooms_loaded'),
    parks: get('blobsync_sync_room_parks_total'),
    unparks: get('blobsync_sync_room_unparks_total')
  }
}

const snapshot = doc => JSON.stringify([
  Object.entries(doc.getMap('m').toJSON()).sort(), doc.getArray('a').toJSON(), doc.getText('t').toString()])

// Number of awareness states in a [1, update] message.
function awarenessCount (msg) {
  const d = decoding.createDecoder(msg)
  if (decoding.readVarUint(d) !== 1) return -1
  const update = decoding.readVarUint8Array(d)
  return decoding.readVarUint(decoding.createDecoder(update))
}

main('parking: idle rooms park and come back unchanged', async servers => {
  const dir = tmpDir('parking')
  let server = await new Server(dir).start()
  servers.push(server)

  // 1. Edits (with deletions) and an awareness state, then the client leaves.
  const a = client(server.url, 'park/doc')
  await a.synced
  a.provider.awareness.setLocalStateField('user', { name: 'a' })
  a.doc.transact(() => {
    a.doc.getText('t').insert(0, 'hello parked world')
    a.doc.getMap('m').set('k', 1)
    a.doc.getArray('a').push([1, 2, 3])
  })
  a.doc.getText('t').delete(5, 7)
  a.doc.getMap('m').set('k', 2)
  a.doc.getArray('a').delete(0, 1)
  const watcher = client(server.url, 'park/doc')  // sees what the server made durable
  await watcher.synced
  await until(() => snapshot(watcher.doc) === snapshot(a.doc), 'watcher has a\'s edits')
  await until(() => watcher.provider.awareness.getStates().size === 2, 'watcher sees a\'s awareness')
  const before = snapshot(a.doc)
  const m0 = await metrics(server)
  a.destroy(); watcher.destroy()
  await until(async () => (await metrics(server)).parks > m0.parks, 'the room parks after its last client left')
  let m = await metrics(server)
  // loaded counts parked rooms too; the other one is the mesh directory room
  // _mesh, which a server keeps even without peers so that servers naming it
  // as their peer learn its rooms.
  assert(m.parked === 1 && m.loaded === 2, `one parked room, and only _mesh besides (${JSON.stringify(m)})`)

  // 2. A raw client un-parks it: no awareness state survived, greeting is SyncStep1.
  const raw = await rawSocket(server.url, 'park/doc')
  await raw.next(b => b[0] === 0 && b[1] === 0, 0, 'greeting [0,0,SV]')
  const from = raw.got.length
  raw.send([3])
  const aw = await raw.next(b => b[0] === 1, from, 'awareness reply')
  assert(awarenessCount(aw) === 0, `no awareness state leaked across parking (${awarenessCount(aw)})`)
  m = await metrics(server)
  assert(m.unparks >= 1 && m.parked === 0, `un-parked on join (${JSON.stringify(m)})`)
  raw.ws.close()
  await raw.closed

  // 3. A y-websocket client gets exactly the state from before.
  const b = client(server.url, 'park/doc')
  await b.synced
  await until(() => snapshot(b.doc) === before, () => `state after un-park (${snapshot(b.doc)}) == before (${before})`)
  b.doc.getArray('a').push(['after'])
  const b2 = client(server.url, 'park/doc')
  await b2.synced
  await until(() => b2.doc.getArray('a').length === 3, 'edit after un-park is broadcast')
  // The same provider goes offline (the room parks), edits, reconnects.
  const parksBefore = (await metrics(server)).parks
  b2.destroy()
  b.provider.disconnect()
  await until(async () => (await metrics(server)).parks > parksBefore, 'parks again while b is offline')
  b.doc.getArray('a').push(['offline'])
  b.provider.connect()
  await until(() => b.provider.synced, 'b resyncs after reconnecting')
  const b3 = client(server.url, 'park/doc')
  await b3.synced
  await until(() => b3.doc.getArray('a').length === 4 && snapshot(b3.doc) === snapshot(b.doc),
    'the offline edit reached the un-parked room')
  const parksBefore2 = (await metrics(server)).parks
  b.destroy(); b3.destroy()
  await until(async () => (await metrics(server)).parks > parksBefore2, 'parks again')

  // 4. Joins racing the parking: waves of clients that each add one item and
  //    leave while the next wave joins. Nothing is lost.
  const WAVES = 15, PER_WAVE = 4
  let prev = []
  for (let w = 0; w < WAVES; w++) {
    const wave = Array.from({ length: PER_WAVE }, () => client(server.url, 'park/race'))
    for (const c of prev) c.destroy()  // leave while the next wave joins
    await Promise.all(wave.map(c => c.synced))
    wave.forEach((c, i) => c.doc.getArray('a').push([`${w}-${i}`]))
    await until(() => wave.every(c => c.doc.getArray('a').length === (w + 1) * PER_WAVE), `wave ${w} converges`)
    prev = wave
  }
  for (const c of prev) c.destroy()
  const check = client(server.url, 'park/race')
  await check.synced
  await until(() => check.doc.getArray('a').length === WAVES * PER_WAVE, 'every item of every wave survived')
  assert(new Set(check.doc.getArray('a').toArray()).size === WAVES * PER_WAVE, 'no duplicates')
  check.destroy()

  // 5. Many rooms, one update each: all park.
  const N = 40
  const parks0 = (await metrics(server)).parks
  for (let i = 0; i < N; i++) {
    const c = client(server.url, `park/many-${i}`)
    await c.synced
    c.doc.getText('t').insert(0, `room ${i}`)
    const w = client(server.url, `park/many-${i}`)
    await w.synced
    await until(() => w.doc.getText('t').toString() === `room ${i}`, `room ${i} durable`)
    c.destroy(); w.destroy()
  }
  await until(async () => (await metrics(server)).parks >= parks0 + N, 'every room parked')

  // 6. SIGKILL while parked: everything is there after the restart.
  server = await server.restart()
  m = await metrics(server)
  assert(m.parked === 0 && m.parks === 0, 'fresh process')
  const c = client(server.url, 'park/doc')
  await c.synced
  await until(() => c.doc.getArray('a').length === 4, 'parked room survived the restart')
  assert(c.doc.getText('t').toString() === 'hello world', `text survived (${c.doc.getText('t').toString()})`)
  c.destroy()
  for (let i = 0; i < N; i += 7) {
    const r = client(server.url, `park/many-${i}`)
    await r.synced
    await until(() => r.doc.getText('t').toString() === `room ${i}`, `room ${i} survived the restart`)
    r.destroy()
  }
  const r = client(server.url, 'park/race')
  await r.synced
  await until(() => r.doc.getArray('a').length === WAVES * PER_WAVE, 'race room survived the restart')
  r.doc.getArray('a').push(['after-restart'])
  const rw = client(server.url, 'park/race')
  await rw.synced
  await until(() => rw.doc.getArray('a').length === WAVES * PER_WAVE + 1, 'edit after the restart is durable')
  r.destroy(); rw.destroy()
  await until(async () => (await metrics(server)).parked >= 1, 'parked again after the restart')

  // 7. Clean stop (SIGTERM) with parked rooms, then start again: nothing lost.
  const port = server.port
  await server.kill('SIGTERM')
  server = await server.start(port)
  const f = client(server.url, 'park/race')
  await f.synced
  await until(() => f.doc.getArray('a').length === WAVES * PER_WAVE + 1, 'parked room survived a clean stop')
  f.destroy()
})
