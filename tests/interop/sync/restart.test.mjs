// A server killed with SIGKILL and started again on the same data dir loses
// nothing that was echoed back (durable before broadcast), across log
// compaction; a room unloaded when idle reloads from disk.
import { Server, client, until, assert, main, tmpDir } from './harness.mjs'

main('restart: kill -9 and restart loses nothing; idle rooms reload', async servers => {
  const dir = tmpDir('restart')
  const server = await new Server(dir, ['--compact-updates', '7', '--room-idle-ms', '300']).start()
  servers.push(server)
  const a = client(server.url, 'doc1')
  const b = client(server.url, 'doc1')
  await Promise.all([a.synced, b.synced])
  for (let i = 0; i < 50; i++) {
    (i % 2 ? a : b).doc.getArray('list').push([i])
    a.doc.getText('t').insert(a.doc.getText('t').length, 'x')
  }
  a.doc.getMap('m').set('big', 'y'.repeat(100000))
  // b has seen everything only once the server broadcast it, i.e. made it durable.
  await until(() => b.doc.getArray('list').length === 50 && b.doc.getText('t').length === 50 &&
    b.doc.getMap('m').get('big')?.length === 100000, 'b has every edit')
  await until(() => a.doc.getArray('list').length === 50, 'a has every edit')
  a.destroy(); b.destroy()

  await server.restart()
  const c = client(server.url, 'doc1')
  await c.synced
  assert(c.doc.getArray('list').length === 50, `list survived restart (${c.doc.getArray('list').length})`)
  assert(c.doc.getText('t').length === 50, 'text survived restart')
  assert(c.doc.getMap('m').get('big')?.length === 100000, 'map value survived restart')
  const sum = c.doc.getArray('list').toArray().reduce((x, y) => x + y, 0)
  assert(sum === 49 * 50 / 2, 'every element present once')

  // Idle unload (300 ms) and reload: state still there, new edits persist.
  c.doc.getArray('list').push([100])
  const d = client(server.url, 'doc1')
  await d.synced
  await until(() => d.doc.getArray('list').length === 51, 'd sees the new edit')
  c.destroy(); d.destroy()
  await new Promise(resolve => setTimeout(resolve, 1500)) // let the room unload (not asserted)
  const e = client(server.url, 'doc1')
  await e.synced
  assert(e.doc.getArray('list').length === 51, 'state after reload')
  e.destroy()

  await server.kill('SIGTERM')
  assert(server.proc.exitCode === 0, `clean exit on SIGTERM (${server.proc.exitCode}/${server.proc.signalCode})`)
  await server.start()
  const f = client(server.url, 'doc1')
  await f.synced
  assert(f.doc.getArray('list').length === 51, 'state after clean restart')
  f.destroy()
})
