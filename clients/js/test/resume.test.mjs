// Interrupted transfers resume: the connection is cut mid-transfer (a TCP
// proxy between the provider and the server drops it after a number of
// bytes) and the bytes sent again are counted: a resumed transfer re-sends at
// most what was in flight (the window), a restarted one would re-send everything.
import test from 'node:test'
import assert from 'node:assert/strict'
import { scope, proxy, freePorts, randomBytes, sha256hex, blobBytes, until } from './harness.mjs'

const MiB = 1 << 20
const SIZE = 32 * MiB
const WINDOW = 16 * 262144 // chunks that may be in flight when the cut comes

test('an upload cut by a disconnect resumes after the reconnect', async t => {
  const s = scope(t)
  const server = await s.server()
  const px = await proxy(server.port)
  t.after(() => px.close())
  const p = s.provider(px.url, 'up-resume', { maxBackoffMs: 200 })
  await p.whenSynced
  const data = randomBytes(SIZE)
  const statuses = []
  p.on('status', e => statuses.push(e.status))
  const before = px.up
  px.cutAfter('up', before + 12 * MiB)
  const ref = await p.putBlob(data)
  assert.equal(px.cuts, 1, 'the connection was cut once')
  assert.ok(statuses.includes('disconnected') && statuses.at(-1) === 'connected', `reconnected (${statuses})`)
  const sent = px.up - before
  // Resumed: everything once, plus what was in flight at the cut. Restarted: 12 MiB more.
  assert.ok(sent < SIZE + WINDOW + MiB, `re-sent too much: ${sent} bytes for a ${SIZE}-byte blob`)
  assert.ok(sent >= SIZE)
  const other = s.provider(server.url, 'up-resume')
  const blob = await other.getBlob(ref.hash)
  assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))
})

test('a download cut by a disconnect resumes from the cached chunks, also in a new provider', async t => {
  const s = scope(t)
  // The server's registry identity is the proxy, so the holder the downloader dials goes through it.
  const [port] = await freePorts(1)
  const px = await proxy(port)
  t.after(() => px.close())
  const server = await s.server(['--url', px.url], port)
  const up = s.provider(server.url, 'down-resume')
  await up.whenSynced
  const data = randomBytes(SIZE)
  const ref = await up.putBlob(data)
  assert.deepEqual(up.holdersOf(ref.hash), [px.url])

  const cacheDir = s.dir()
  const p1 = s.provider(px.url, 'down-resume', { cacheDir, rounds: 1 })
  await p1.whenSynced
  const start = px.down
  px.cutAfter('down', start + 12 * MiB)
  await assert.rejects(p1.getBlob(ref.hash), e => {
    assert.match(e.message, new RegExp(`${px.url}: connection closed`))
    return true
  })
  assert.equal(px.cuts, 1)
  assert.equal(await p1.hasBlob(ref.hash), false)
  p1.destroy()

  // A new provider on the same cache (an app restart) asks only for the missing chunks.
  const p2 = s.provider(px.url, 'down-resume', { cacheDir })
  await p2.whenSynced
  let first = null
  const mid = px.down
  const blob = await p2.getBlob(ref.hash, { onProgress: e => { if (first === null) first = e.loaded } })
  assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))
  const again = px.down - mid
  assert.ok(first > 8 * MiB - WINDOW, `progress starts at the cached bytes (${first})`)
  assert.ok(again < SIZE - 8 * MiB, `resumed download moved ${again} bytes of ${SIZE}`)
  assert.ok(px.down - start < SIZE + WINDOW + 2 * MiB, `total ${px.down - start} bytes for a ${SIZE}-byte blob`)
})

test('abort: a signal stops getBlob and putBlob; the partial download is kept and resumes', async t => {
  const s = scope(t)
  const server = await s.server()
  const up = s.provider(server.url, 'abort')
  await up.whenSynced
  const data = randomBytes(16 * MiB)
  const ref = await up.putBlob(data)

  const down = s.provider(server.url, 'abort')
  await down.whenSynced
  const ac = new AbortController()
  let loaded = 0
  await assert.rejects(down.getBlob(ref.hash, {
    signal: ac.signal,
    onProgress: e => { loaded = e.loaded; if (e.loaded >= 4 * MiB) ac.abort() }
  }), e => e.name === 'AbortError')
  assert.ok(loaded < data.length, 'aborted before the end')
  assert.equal(await down.hasBlob(ref.hash), false)
  let resumedFrom = null
  const blob = await down.getBlob(ref.hash, { onProgress: e => { resumedFrom ??= e.loaded } })
  assert.ok(resumedFrom > 4 * MiB - 262144, `resumed at ${resumedFrom}`)
  assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))

  // putBlob: aborted while storing, and aborted before it starts.
  const ac2 = new AbortController()
  await assert.rejects(up.putBlob(randomBytes(8 * MiB), {
    signal: ac2.signal, onProgress: e => { if (e.loaded >= MiB) ac2.abort() }
  }), e => e.name === 'AbortError')
  await assert.rejects(up.putBlob(randomBytes(10), { signal: AbortSignal.abort() }), e => e.name === 'AbortError')
  await until(async () => true, 'nothing')
})
