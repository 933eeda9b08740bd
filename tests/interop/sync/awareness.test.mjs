// Awareness is relayed to every connection (sender included), removed and the
// removal broadcast when a client disconnects; queryAwareness is answered;
// a new joiner gets all current states.
import { Server, client, until, assert, main, tmpDir, rawSocket, decoding } from './harness.mjs'

function awarenessClients (msg) {
  const d = decoding.createDecoder(msg)
  if (decoding.readVarUint(d) !== 1) return null
  const u = decoding.createDecoder(decoding.readVarUint8Array(d))
  const n = decoding.readVarUint(u)
  const out = []
  for (let i = 0; i < n; i++) {
    out.push({ client: decoding.readVarUint(u), clock: decoding.readVarUint(u), state: JSON.parse(decoding.readVarString(u)) })
  }
  return out
}

main('awareness: relayed, removed on disconnect, queryAwareness', async servers => {
  const server = await new Server(tmpDir('aw')).start()
  servers.push(server)
  const a = client(server.url, 'room')
  const b = client(server.url, 'room')
  await Promise.all([a.synced, b.synced])
  a.provider.awareness.setLocalStateField('user', { name: 'alice' })
  b.provider.awareness.setLocalStateField('user', { name: 'bob' })
  const aId = a.doc.clientID
  await until(() => b.provider.awareness.getStates().get(aId)?.user?.name === 'alice', 'b sees alice')
  await until(() => a.provider.awareness.getStates().get(b.doc.clientID)?.user?.name === 'bob', 'a sees bob')

  // A raw joiner gets every state on connect; [3] is answered with all states.
  const raw = await rawSocket(server.url, 'room')
  const greet = await raw.next(m => m[0] === 1, 0, 'awareness greeting')
  const names = awarenessClients(greet).map(e => e.state?.user?.name).sort()
  assert(JSON.stringify(names) === '["alice","bob"]', 'greeting has both states: ' + names)
  const from = raw.got.length
  raw.send([3])
  const reply = await raw.next(m => m[0] === 1 && awarenessClients(m).length === 2, from, 'queryAwareness reply')
  assert(reply, 'queryAwareness answered')

  // alice leaves: her state is removed everywhere.
  a.destroy()
  await until(() => !b.provider.awareness.getStates().has(aId), 'b sees alice removed')
  await raw.next(m => m[0] === 1 && awarenessClients(m).some(e => e.client === aId && e.state === null), from,
    'removal broadcast to the raw socket')
  b.destroy()
  raw.ws.close()
})
