// Several y-websocket clients edit one room (map, array, text) and converge;
// a late joiner gets the full state; rooms are isolated.
import { Server, client, until, assert, main, tmpDir } from './harness.mjs'

main('rooms: concurrent edits converge, late joiner, isolation', async servers => {
  const server = await new Server(tmpDir('rooms')).start()
  servers.push(server)
  const N = 5
  const clients = Array.from({ length: N }, () => client(server.url, 'team/notes'))
  await Promise.all(clients.map(c => c.synced))
  for (let round = 0; round < 20; round++) {
    clients.forEach((c, i) => {
      c.doc.transact(() => {
        c.doc.getMap('m').set(`k${i}`, round)
        c.doc.getArray('a').push([`${i}-${round}`])
        c.doc.getText('t').insert(0, String.fromCharCode(97 + i))
      })
    })
  }
  // Map key order in toJSON() follows local insertion order: compare canonically.
  const json = c => JSON.stringify([Object.entries(c.doc.getMap('m').toJSON()).sort(), c.doc.getArray('a').toJSON(), c.doc.getText('t').toString()])
  await until(() => clients.every(c => c.doc.getArray('a').length === N * 20 && json(c) === json(clients[0])),
    'all clients converge')
  const ref = clients[0].doc
  assert(ref.getText('t').length === N * 20, 'text has every insert')
  for (let i = 0; i < N; i++) assert(ref.getMap('m').get(`k${i}`) === 19, `map key k${i}`)

  const late = client(server.url, 'team/notes')
  await late.synced
  await until(() => json(late) === json(clients[0]), 'late joiner has the full state')

  const other = client(server.url, 'team/other')
  await other.synced
  assert(other.doc.getArray('a').length === 0, 'rooms are isolated')
  other.doc.getArray('a').push(['x'])
  const check = client(server.url, 'team/other')
  await check.synced
  await until(() => check.doc.getArray('a').length === 1, 'other room has its own edit')
  assert(ref.getArray('a').length === N * 20, 'first room unchanged')
  for (const c of [...clients, late, other, check]) c.destroy()
})
