// Pre-shared tokens: no/unknown token -> close 4401; ?token= and
// Authorization: Bearer both work; a read-only token's edits are dropped but
// it still receives everything.
import { Server, client, until, assert, main, tmpDir, rawSocket } from './harness.mjs'
import { BlobClient, memoryBlob, testBytes } from './blobclient.mjs'

main('auth: 4401 for bad tokens, read-only edits dropped', async servers => {
  const server = await new Server(tmpDir('auth'), ['--token', 'rw-secret', '--read-only-token', 'ro-secret']).start()
  servers.push(server)
  for (const query of ['', '?token=wrong']) {
    const raw = await rawSocket(server.url, 'r', { query })
    const closed = await raw.closed
    assert(closed.code === 4401, `close code 4401 for "${query}" (got ${closed.code})`)
  }
  const bearer = await rawSocket(server.url, 'r', { headers: { Authorization: 'Bearer rw-secret' } })
  await bearer.next(m => m[0] === 0, 0, 'bearer token gets sync step 1')
  bearer.ws.close()

  const rw = client(server.url, 'r', { params: { token: 'rw-secret' } })
  const ro = client(server.url, 'r', { params: { token: 'ro-secret' } })
  await Promise.all([rw.synced, ro.synced])
  ro.doc.getArray('a').push(['from-ro'])
  rw.doc.getArray('a').push(['from-rw'])
  await until(() => ro.doc.getArray('a').toArray().includes('from-rw'), 'ro receives rw edits')
  // A sentinel written after the ro edit: once rw sees it back, the ro edit would have arrived too.
  const probe = client(server.url, 'r', { params: { token: 'rw-secret' } })
  await probe.synced
  assert(!probe.doc.getArray('a').toArray().includes('from-ro'), 'read-only edit not stored')
  assert(!rw.doc.getArray('a').toArray().includes('from-ro'), 'read-only edit not broadcast')
  assert(probe.doc.getArray('a').toArray().includes('from-rw'), 'rw edit stored')
  // A read-only token may download but not upload.
  const bytes = testBytes(1000)
  const blob = memoryBlob(bytes)
  const up = await BlobClient.connect(server.url, 'r', { query: '?token=rw-secret' })
  await up.upload(blob)
  const roBlob = await BlobClient.connect(server.url, 'r', { query: '?token=ro-secret' })
  assert((await roBlob.download(blob.hash)).data.equals(bytes), 'read-only token can download')
  let forbidden = false
  try { await roBlob.upload(memoryBlob(testBytes(2000))) } catch (e) { forbidden = e.code === 'FORBIDDEN' }
  assert(forbidden, 'read-only upload gets FORBIDDEN')
  up.close(); roBlob.close()
  for (const c of [rw, ro, probe]) c.destroy()
})
