// WebSocket framing the read path must handle now that an idle plain-TCP
// connection waits for its socket instead of keeping a read pending (issue
// 20, src/sync/ws_read_gate.h): several frames in one TCP segment (the
// later ones sit in Beast's buffer, never waking the socket), a frame split
// across writes, client pings, and a fragmented message (after which the
// connection reads the old way). Every update must come back (the echo),
// and a y-websocket client must see them all.
import { Server, Y, client, until, assert, main, tmpDir } from './harness.mjs'
import { frame, rawConnect, lengthPrefixed } from './rawws.mjs'

main('framing: batched, split, fragmented frames and pings on the idle read path', async servers => {
  const server = await new Server(tmpDir('framing'), []).start()
  servers.push(server)
  const { sock, frames } = await rawConnect(server.port, 'framing')
  await until(() => frames.some(f => f.opcode === 2 && f.payload[0] === 0 && f.payload[1] === 0), 'greeting')

  const doc = new Y.Doc()
  const text = doc.getText('t')
  const updates = []
  doc.on('update', u => updates.push(Buffer.concat([Buffer.from([0, 2]), lengthPrefixed(u)])))
  const echoes = () => frames.filter(f => f.opcode === 2 && f.payload[0] === 0 && f.payload[1] === 2).length
  const edit = s => { text.insert(text.length, s); return updates[updates.length - 1] }
  const idle = () => new Promise(resolve => setTimeout(resolve, 150))  // the connection goes back to waiting

  // Sync step 1 and two updates in one TCP write.
  sock.write(Buffer.concat([frame(2, Buffer.from([0, 0, 1, 0])), frame(2, edit('one,')), frame(2, edit('two,'))]))
  await until(() => echoes() === 2, 'both batched updates echoed', 10000)
  assert(frames.some(f => f.opcode === 2 && f.payload[0] === 0 && f.payload[1] === 1), 'sync step 2 reply')
  await idle()

  // Two large frames in one write: Beast reads the first one whole and the
  // second stays in the kernel; it must still be read (no wait for an edge
  // that already passed).
  const big = 'x'.repeat(3000)
  sock.write(Buffer.concat([frame(2, edit(big)), frame(2, edit(big))]))
  await until(() => echoes() === 4, 'both large updates echoed', 10000)
  await idle()

  // One frame split across two writes.
  const split = frame(2, edit('three,'))
  sock.write(split.subarray(0, 5))
  await idle()
  sock.write(split.subarray(5))
  await until(() => echoes() === 5, 'split frame echoed', 10000)
  await idle()

  // A ping (answered), then a ping and an update in one write.
  sock.write(frame(9, Buffer.from('hi')))
  await until(() => frames.some(f => f.opcode === 10 && f.payload.toString() === 'hi'), 'pong', 10000)
  await idle()
  sock.write(Buffer.concat([frame(9, Buffer.from('again')), frame(2, edit('four,'))]))
  await until(() => echoes() === 6, 'update after a ping echoed', 10000)
  await idle()

  // A fragmented message, then more updates: the connection keeps working.
  const five = edit('five,')
  sock.write(Buffer.concat([frame(2, five.subarray(0, 3), false), frame(0, five.subarray(3))]))
  await until(() => echoes() === 7, 'fragmented update echoed', 10000)
  await idle()
  sock.write(frame(2, edit('six,')))
  await until(() => echoes() === 8, 'update after the fragmented one echoed', 10000)
  await idle()
  sock.write(Buffer.concat([frame(2, edit('seven,')), frame(2, edit('eight'))]))
  await until(() => echoes() === 10, 'batched updates after the fragmented one echoed', 10000)

  const watcher = client(server.url, 'framing')
  await watcher.synced
  await until(() => watcher.doc.getText('t').toString() === 'one,two,' + big + big + 'three,four,five,six,seven,eight',
    () => `a y-websocket client sees every update: ${watcher.doc.getText('t').toString()}`)
  watcher.destroy()
  // The raw connection ends with a bare FIN while its session waits for it
  // (no close frame): the session must see it, leave, and the room park.
  sock.end()
  const parked = async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
    const m = text.match(/^blobsync_sync_rooms_parked (\d+)/m)
    return m && Number(m[1]) >= 1
  }
  await until(parked, 'the room parks once both connections are gone', 20000)
  sock.destroy()
})
