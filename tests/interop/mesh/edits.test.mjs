// Concurrent document edits through three servers converge, also after one
// server is SIGKILLed and restarted (its clients reconnect; its data dir is
// kept) and after more edits while it was down. Nothing that reached any
// server is lost: fresh clients of every server see every edit.
import { startMesh, until, assert, main, client, meshUp } from './mesh_harness.mjs'

const room = 'notes'
// Map key order is local insertion order in Yjs: compare sorted entries.
const snapshot = c => JSON.stringify(Object.entries(c.doc.getMap('m').toJSON()).sort()) + '|' + c.doc.getText('t').toString()

// Every client's doc holds the same state and every expected key.
function converged (clients, keys) {
  const first = snapshot(clients[0])
  return clients.every(c => snapshot(c) === first) &&
    keys.every(k => clients[0].doc.getMap('m').has(k))
}

async function freshAgree (servers, keys) {
  const fresh = servers.filter(s => s.alive()).map(s => client(s.url, room))
  try {
    await Promise.all(fresh.map(f => f.synced))
    await until(() => converged(fresh, keys), 'fresh clients of every live server agree and have every edit', 30000)
  } finally { fresh.forEach(f => f.destroy()) }
}

main('mesh edits: concurrent edits converge through kill and restart', async servers => {
  const [a, b, c] = await startMesh(servers, 3, { tag: 'edits' })
  const clients = [a, b, c, a, b, c].map(s => client(s.url, room))
  await Promise.all(clients.map(x => x.synced))
  await until(() => meshUp(servers), 'mesh up')

  const keys = []
  const keysOf = new Map(clients.map(x => [x, []]))
  const burst = (tag, who) => {
    who.forEach((x, i) => {
      for (let k = 0; k < 20; k++) {
        const key = `${tag}-${i}-${k}`
        keys.push(key)
        keysOf.get(x).push(key)
        x.doc.getMap('m').set(key, k)
        x.doc.getText('t').insert(0, `${tag}${i}.${k} `)
      }
    })
  }
  burst('r1', clients) // all at once, on all servers
  await until(() => converged(clients, keys), 'round 1 converges on all clients')

  // B crashes; clients of A and C keep editing; B's clients edit offline.
  await b.kill('SIGKILL')
  burst('r2', clients)
  const onAC = [clients[0], clients[2], clients[3], clients[5]]
  await until(() => converged(onAC, onAC.flatMap(x => keysOf.get(x))), 'A and C converge without B')
  await b.start(b.meshPort)
  await until(() => meshUp(servers), 'mesh up again after B restarted')
  await until(() => converged(clients, keys), 'everyone (B\'s clients too) converges after the restart')
  burst('r3', clients)
  await until(() => converged(clients, keys), 'round 3 converges')
  await freshAgree(servers, keys)
  clients.forEach(x => x.destroy())
})
