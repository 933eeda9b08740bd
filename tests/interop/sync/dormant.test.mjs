// Dormant connections (src/sync/ws_session.cpp): a plain-TCP WebSocket that
// sent nothing for a second drops its Beast stream and keeps only its
// socket; the registry's sweep plays Beast's keep-alive for it. With
// ws_idle_timeout 4s: a ping after 2 s of silence, the connection closed
// (no close frame, as Beast does) 2 s after an unanswered ping. Checked on
// dormant connections: the ping, a pong keeping it open, silence closing
// it, an update after a long dormancy handled, a broadcast reaching it, a
// close frame answered, a bare FIN leaving the room, the shutdown's 1001.
import { Server, Y, client, until, assert, main, tmpDir } from './harness.mjs'
import { frame, rawConnect, lengthPrefixed } from './rawws.mjs'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

main('dormant: keep-alive, wake-up, close, FIN and shutdown of connections without a Beast stream', async servers => {
  const server = await new Server(tmpDir('dormant'), [], { env: { BLOBSYNC_WS_IDLE_TIMEOUT: '4s' } }).start()
  servers.push(server)
  const metric = async name => {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
    const m = text.match(new RegExp(`^${name} (\\d+)`, 'm'))
    return m ? Number(m[1]) : NaN
  }
  const dormant = () => metric('blobsync_sync_connections_dormant')

  // A raw client that greets (sync step 1 and an update), as y-websocket does, then is silent.
  // One document per room: an update must not depend on another room's.
  const docs = new Map()
  const edit = (room, s) => {
    if (!docs.has(room)) {
      const d = { doc: new Y.Doc(), updates: [] }
      d.doc.on('update', u => d.updates.push(Buffer.concat([Buffer.from([0, 2]), lengthPrefixed(u)])))
      docs.set(room, d)
    }
    const { doc, updates } = docs.get(room)
    doc.getText('t').insert(doc.getText('t').length, s)
    return updates[updates.length - 1]
  }
  const greet = async room => {
    const c = await rawConnect(server.port, room)
    c.closed = false
    c.closedAt = 0
    c.sock.on('close', () => { c.closed = true; c.closedAt = Date.now() })
    c.sock.on('error', () => {})
    await until(() => c.frames.some(f => f.opcode === 2 && f.payload[0] === 0 && f.payload[1] === 0), 'greeting')
    c.sock.write(Buffer.concat([frame(2, Buffer.from([0, 0, 1, 0])), frame(2, edit(room, room + ','))]))
    await until(() => c.frames.some(f => f.opcode === 2 && f.payload[0] === 0 && f.payload[1] === 2), 'update echoed')
    return c
  }

  // Silence: dormant within about a second, pinged, closed 2 s after the unanswered ping.
  const silent = await greet('silent')
  await until(async () => await dormant() >= 1, 'the silent connection goes dormant', 5000)
  await until(() => silent.frames.some(f => f.opcode === 9), 'a keep-alive ping while dormant', 6000)
  const pingedAt = Date.now()
  await until(() => silent.closed, 'an unanswered ping closes the connection', 6000)
  assert(silent.closedAt - pingedAt >= 1000, `closed ${silent.closedAt - pingedAt} ms after the ping, not 2 s`)
  assert(!silent.frames.some(f => f.opcode === 8), 'no close frame on a keep-alive timeout (as Beast)')

  // Pongs keep it open across several pings; an update after the long dormancy is handled.
  const alive = await greet('alive')
  let pongs = 0
  alive.sock.on('data', () => {
    for (const f of alive.frames.splice(0)) {
      if (f.opcode === 9) { alive.sock.write(frame(10, f.payload)); pongs++ } else alive.kept = [...(alive.kept || []), f]
    }
  })
  await sleep(9000)
  assert(!alive.closed, 'pongs keep a dormant connection open')
  assert(pongs >= 2, `pinged ${pongs} times in 9 s, not every 2 s`)
  const echoesBefore = (alive.kept || []).filter(f => f.opcode === 2 && f.payload[1] === 2).length
  alive.sock.write(frame(2, edit('alive', 'late,')))
  await until(() => (alive.kept || []).filter(f => f.opcode === 2 && f.payload[1] === 2).length > echoesBefore,
    'an update after a long dormancy is echoed', 5000)

  // A broadcast reaches a dormant connection without waking it.
  const listener = await greet('shared')
  await until(async () => await dormant() >= 1, 'the listener goes dormant', 5000)
  const peer = client(server.url, 'shared')
  await peer.synced
  peer.doc.getText('t').insert(0, 'from-peer,')
  await until(() => listener.frames.filter(f => f.opcode === 2 && f.payload[1] === 2).length >= 2,
    'a broadcast reaches the dormant connection', 5000)
  peer.destroy()

  // A close frame while dormant is answered with a close frame, then the socket ends.
  const closer = await greet('closer')
  await sleep(1600)
  closer.sock.write(frame(8, Buffer.from([0x03, 0xe8])))
  await until(() => closer.frames.some(f => f.opcode === 8), 'the close frame is answered', 5000)
  await until(() => closer.closed, 'the server ends the connection after the close handshake', 5000)

  // A bare FIN while dormant: the session leaves and the room parks.
  const parksBefore = await metric('blobsync_sync_room_parks_total')
  const finner = await greet('finner')
  await sleep(1600)
  finner.sock.end()
  await until(async () => await metric('blobsync_sync_room_parks_total') > parksBefore,
    'the room of a dormant connection that sent a FIN parks', 10000)

  // Shutdown: a dormant connection (before its first ping) gets a 1001 close frame.
  const sleeper = await greet('sleeper')
  await sleep(1600)
  const killed = server.kill('SIGTERM')
  await until(() => sleeper.frames.some(f => f.opcode === 8 && f.payload.readUInt16BE(0) === 1001),
    'the shutdown closes a dormant connection with 1001', 10000)
  for (const c of [silent, alive, listener, closer, finner, sleeper]) c.sock.destroy()
  await killed
})
