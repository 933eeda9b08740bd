// The sweeper's steps under a crash (issue 15): the server is stopped as a
// crash would stop it (BLOBSYNC_TEST_CRASH_AT: _exit right after a step) at
// each step of collecting a blob that a room still lists this server for,
// then restarted normally. Afterwards no held blob is lost and no registry
// entry names this server for a blob it no longer serves.
import crypto from 'node:crypto'
import fs from 'node:fs'
import { Server, client, until, assert, tmpDir, main } from './harness.mjs'
import { BlobClient, memoryBlob } from './blobclient.mjs'
import { getBlob, blobRow, blobFile, hexOf, sql } from './lifecycle_util.mjs'

const holdersIn = async (server, room, hex) => {
  const c = client(server.url, room)
  try {
    await c.synced
    return c.doc.getMap('_blobRegistry').get(`sha256:${hex}`)?.holders || []
  } finally { c.destroy() }
}

main('blob lifecycle: a crash at any sweeper step loses nothing held and leaves no dangling entry', async servers => {
  for (const step of ['decided', 'withdrawn', 'unindexed']) {
    const dir = tmpDir(`crash-${step}`)
    const args = ['--gc-grace', '1s', '--gc-interval', '1s']
    // The first collection of this server ends the process right after `step`.
    const crashing = new Server(dir, args, { env: { BLOBSYNC_TEST_CRASH_AT: step } })
    servers.push(crashing)
    await crashing.start()
    const kept = crypto.randomBytes(300000)
    const gone = crypto.randomBytes(200000)
    const hk = hexOf(kept)
    const hg = hexOf(gone)
    for (const [bytes, room] of [[kept, 'keep'], [gone, 'gone']]) {
      const c = await BlobClient.connect(crashing.url, room)
      assert((await c.upload(memoryBlob(bytes))).done, `uploaded to ${room}`)
      c.close()
    }
    // The app drops `gone` from its room: nothing holds it any more.
    const app = client(crashing.url, 'gone')
    await app.synced
    await until(() => app.doc.getMap('_blobRegistry').has(`sha256:${hg}`), 'gone listed')
    app.doc.getMap('_blobRegistry').delete(`sha256:${hg}`)
    const exit = await crashing.exited
    app.destroy()
    assert(exit.code === 86, `crashed at ${step} (${JSON.stringify(exit)}): ${crashing.stderr.slice(-2000)}`)
    const port = crashing.port

    // Restart: the collection resumes or is redone; the held blob is untouched.
    const s = new Server(dir, args)
    servers.push(s)
    await s.start(port)
    await until(() => blobRow(dir, hg) === null, `${step}: gone's row removed after the restart`, 30000)
    await until(() => !fs.existsSync(blobFile(dir, hg)), `${step}: gone's bytes removed`, 30000)
    await until(() => sql(dir, `SELECT count(*) FROM blob_gone`)[0][0] === '0', `${step}: no deletion left unfinished`)
    const g = await getBlob(s, hg)
    assert(g.status === 404, `${step}: gone is not served (${g.status})`)
    assert(!(await holdersIn(s, 'gone', hg)).includes(s.url), `${step}: no entry names the server for gone`)
    assert(sql(dir, `SELECT count(*) FROM sync_announced WHERE lower(hex(hash)) = '${hg}'`)[0][0] === '0',
      `${step}: no announcement of gone left`)
    const k = await getBlob(s, hk)
    assert(k.status === 200 && k.bytes.equals(kept), `${step}: the held blob survives (${k.status})`)
    assert((await holdersIn(s, 'keep', hk)).includes(s.url), `${step}: the held blob is still listed`)
    assert(blobRow(dir, hk)?.[0] === '1', `${step}: the held blob is permanent`)
    await s.kill('SIGTERM')
  }
})
