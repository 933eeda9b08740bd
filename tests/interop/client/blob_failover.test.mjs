// The C++ client's blob path end to end: `blobsync put --server` uploads to two
// servers whose room is kept in sync (a y-websocket bridge stands in for the
// mesh), the registry lists both, one server's stored copy is corrupted on
// disk, and `blobsync get --server` still returns the right bytes from the
// other holder. With no good holder left, get fails cleanly and writes nothing.
import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Server, client, until, assert, main, tmpDir, Y } from '../sync/harness.mjs'

const cli = process.argv[2]

function blobsync (...args) {
  const r = spawnSync(cli, args, { encoding: 'utf8', timeout: 120000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

main('C++ client: put, registry, get with failover past a corrupt holder', async servers => {
  const a = await new Server(tmpDir('failA')).start()
  const b = await new Server(tmpDir('failB')).start()
  servers.push(a, b)
  const room = 'files'
  const bridge = new Y.Doc()
  const ba = client(a.url, room, { doc: bridge })
  const bb = client(b.url, room, { doc: bridge })
  await Promise.all([ba.synced, bb.synced])

  const work = tmpDir('failwork')
  const file = path.join(work, 'photo.bin')
  fs.writeFileSync(file, crypto.randomBytes(3 * 262144 + 1000))
  const hex = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  const clientData = path.join(work, 'c1')
  for (const s of [a, b]) {
    const r = blobsync('put', file, '--server', s.url, '--room', room, '--data', clientData)
    assert(r.code === 0, `put to ${s.url}: ${r.err}`)
    const ref = JSON.parse(r.out)
    assert(ref.hash === `sha256:${hex}` && ref.size === 3 * 262144 + 1000 && ref.chunkCount === 4, `BlobRef ${r.out}`)
  }
  const observer = client(a.url, room)
  await observer.synced
  await until(() => {
    const e = observer.doc.getMap('_blobRegistry').get(`sha256:${hex}`)
    return e && e.holders.includes(a.url) && e.holders.includes(b.url)
  }, 'registry on A lists A and B')

  // Corrupt A's copy in chunk 1.
  const stored = path.join(a.dataDir, 'blobs', hex.slice(0, 2), hex)
  const fd = fs.openSync(stored, 'r+')
  const byte = Buffer.alloc(1)
  fs.readSync(fd, byte, 0, 1, 300000)
  byte[0] ^= 0xff
  fs.writeSync(fd, byte, 0, 1, 300000)
  fs.closeSync(fd)

  const out = path.join(work, 'got.bin')
  const got = blobsync('get', `sha256:${hex}`, '--server', a.url, '--room', room, '--data', path.join(work, 'c2'),
    '--prefer-holder', a.url, '-o', out)
  assert(got.code === 0, `get with failover: ${got.err}`)
  assert(got.err.includes(`holder ${a.url} failed`), `the corrupt holder was tried first and rejected: ${got.err}`)
  assert(fs.readFileSync(out).equals(fs.readFileSync(file)), 'bytes from the good holder')

  // No good holder left: a clear error, non-zero exit, no output file.
  await b.kill('SIGKILL')
  const out2 = path.join(work, 'got2.bin')
  const bad = blobsync('get', `sha256:${hex}`, '--server', a.url, '--room', room, '--data', path.join(work, 'c3'),
    '--timeout', '5', '-o', out2)
  assert(bad.code !== 0, 'get fails when every holder is corrupt or down')
  assert(/cannot fetch sha256:/.test(bad.err), `clear error: ${bad.err}`)
  assert(!fs.existsSync(out2) && !fs.existsSync(out2 + '.blobsync-partial'), 'nothing written')
  observer.destroy(); ba.provider.destroy(); bb.provider.destroy()
})
