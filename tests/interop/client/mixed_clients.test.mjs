// Several y-websocket (JS) clients and several C++ clients edit one room on a
// blobsync server and converge to the same document; a restart of the server
// loses nothing.
import { spawn, spawnSync } from 'node:child_process'
import { Server, client, until, assert, main, tmpDir } from '../sync/harness.mjs'

const peerBin = process.argv[2]
const cliBin = process.argv[3]
const EDITS = 20
const JS = 3
const CPP = 3

// Y.Map iteration order is the order keys first arrived locally, so compare
// documents with object keys sorted.
function canonical (v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map(k => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  return JSON.stringify(v)
}

function runPeer (url, room, id, expectKeys) {
  return new Promise((resolve, reject) => {
    const p = spawn(peerBin, ['--server', url, '--room', room, '--data', tmpDir(`peer${id}`),
      '--id', String(id), '--edits', String(EDITS), '--expect-keys', String(expectKeys)])
    let out = ''; let err = ''
    p.stdout.on('data', d => { out += d })
    p.stderr.on('data', d => { err += d })
    // 'close', not 'exit': stdout may still hold data when the process exits.
    p.on('close', code => code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client_peer ${id} exited ${code}: ${err}`)))
  })
}

main('mixed JS and C++ clients converge', async servers => {
  const dataDir = tmpDir('mixed')
  const server = await new Server(dataDir).start()
  servers.push(server)
  const room = 'mixed-room'
  const total = (JS + CPP) * EDITS
  const js = []
  for (let j = 0; j < JS; j++) js.push(client(server.url, room))
  await Promise.all(js.map(c => c.synced))
  // C++ peers start now and wait for everyone's keys; JS clients edit concurrently.
  const cpp = []
  for (let k = 0; k < CPP; k++) cpp.push(runPeer(server.url, room, k, total))
  for (let i = 0; i < EDITS; i++) {
    js.forEach((c, j) => c.doc.transact(() => {
      c.doc.getMap('m').set(`js${j}-${i}`, i)
      c.doc.getText('t').insert(0, `[j${j}.${i}]`)
    }))
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  const cppDocs = await Promise.all(cpp)
  await until(() => js.every(c => c.doc.getMap('m').size === total), 'all JS clients see every key')
  const expected = canonical(js[0].doc.toJSON())
  for (const c of js) assert(canonical(c.doc.toJSON()) === expected, 'JS clients agree')
  // The C++ peers printed their document once all keys had arrived; the text
  // may have grown since only if someone edited later, which nobody did.
  for (const d of cppDocs) {
    assert(Object.keys(d.m).length === total, 'C++ peer saw every key')
    assert(canonical(d) === expected, `C++ peer agrees with JS:\n${canonical(d).slice(0, 200)}\nvs\n${expected.slice(0, 200)}`)
  }
  // `blobsync ydoc dump` prints the same document (root types guessed).
  const dump = spawnSync(cliBin, ['ydoc', 'dump', '--server', server.url, '--room', room, '--data', tmpDir('dump')],
    { encoding: 'utf8' })
  assert(dump.status === 0, `ydoc dump: ${dump.stderr}`)
  assert(canonical(JSON.parse(dump.stdout)) === expected, `ydoc dump agrees: ${dump.stdout.slice(0, 200)}`)
  // Declared types win over the guess, as doc.getMap('t') would in yjs: a text
  // read as a map has no entries.
  const asMap = spawnSync(cliBin, ['ydoc', 'dump', '--server', server.url, '--room', room, '--data', tmpDir('dump2'),
    '--map', 't'], { encoding: 'utf8' })
  assert(asMap.status === 0 && JSON.stringify(JSON.parse(asMap.stdout).t) === '{}', `--map t: ${asMap.stdout}${asMap.stderr}`)
  const noServer = spawnSync(cliBin, ['ydoc', 'dump', '--room', room], { encoding: 'utf8' })
  assert(noServer.status === 2 && /needs --server/.test(noServer.stderr), `usage error: ${noServer.stderr}`)
  js.forEach(c => c.destroy())

  // Restart: a fresh C++ peer sees everything.
  await server.restart()
  const after = await runPeer(server.url, room, 99, total + EDITS)
  assert(Object.keys(after.m).length === total + EDITS, 'nothing lost across the restart')
})
