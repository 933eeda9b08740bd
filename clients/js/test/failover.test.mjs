// getBlob's holder failover: a three-server mesh losing the uploading server,
// a server whose stored copy was corrupted on disk (it refuses mid-blob; the
// next holder resumes at that chunk),
// holders that serve wrong bytes (skipped, never cached), and the error that
// names each holder tried when none delivers.
import test from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { scope, randomBytes, sha256hex, blobBytes, until, fakeHolder, listHolders, freePorts, CHUNK } from './harness.mjs'

test('three-server mesh: the uploading server is killed and getBlob gets the blob from another holder', async t => {
  const s = scope(t)
  const [a, b, c] = await s.mesh(3)
  const up = s.provider(a.url, 'mesh')
  await up.whenSynced
  const data = randomBytes(5 * CHUNK + 77)
  const ref = await up.putBlob(data, { filename: 'm.bin' })
  const down = s.provider(c.url, 'mesh')
  await down.whenSynced
  // replication = all: every server copies it and lists itself.
  await until(() => down.holdersOf(ref.hash).length === 3, `3 holders of ${ref.hash} (have ${JSON.stringify(down.holdersOf(ref.hash))})`)
  up.destroy()
  await a.kill('SIGKILL') // no clean withdrawal: a stays listed
  assert.ok(down.holdersOf(ref.hash).includes(a.url))
  const failed = []
  down.on('holder-failed', f => failed.push(f))
  // Try the dead server first, so the failover is exercised every run.
  const blob = await down.getBlob(ref.hash, { preferHolders: [a.url] })
  assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))
  assert.deepEqual(failed.map(f => f.holder), [a.url], 'the dead holder was tried first and failed')
  assert.match(failed[0].error, /connect|ECONNREFUSED/i)
  assert.ok(b.alive() && c.alive())
})

const why = { 'bad-chunk': /chunk 0 does not match its hash/, lie: /blob hash/, huge: /META: 1 chunk hashes for 17179869184 chunks/ }
test('a server whose stored copy went bad on disk is skipped for the next holder', async t => {
  const s = scope(t)
  const [a, b] = await s.mesh(2)
  const up = s.provider(a.url, 'rot')
  await up.whenSynced
  const data = randomBytes(4 * CHUNK + 3)
  const ref = await up.putBlob(data)
  await until(() => up.holdersOf(ref.hash).length === 2, 'both servers hold it')
  // Flip a byte of a's copy, in chunk 2 (a re-checks each chunk it reads and refuses to send it).
  const hex = ref.hash.slice(7)
  const file = path.join(a.dataDir, 'blobs', hex.slice(0, 2), hex)
  const fd = fs.openSync(file, 'r+')
  const byte = Buffer.alloc(1)
  fs.readSync(fd, byte, 0, 1, 2 * CHUNK + 5)
  byte[0] ^= 0xff
  fs.writeSync(fd, byte, 0, 1, 2 * CHUNK + 5)
  fs.closeSync(fd)
  const down = s.provider(b.url, 'rot')
  await down.whenSynced
  const failed = []
  down.on('holder-failed', f => failed.push(f))
  const blob = await down.getBlob(ref.hash, { preferHolders: [a.url] })
  assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))
  assert.deepEqual(failed.map(f => f.holder), [a.url], `a was tried first and failed: ${JSON.stringify(failed)}`)
  assert.match(failed[0].error, /INTERNAL: stored chunk 2 does not match its hash/)
})

for (const mode of ['bad-chunk', 'lie', 'huge']) {
  test(`a holder serving wrong bytes (${mode}) is skipped and its bytes never returned`, async t => {
    const s = scope(t)
    const server = await s.server()
    const up = s.provider(server.url, 'corrupt')
    await up.whenSynced
    const data = randomBytes(3 * CHUNK + 10)
    const ref = await up.putBlob(data)
    const fake = await fakeHolder(data, mode)
    t.after(() => fake.close())
    // After the server's own announcement, or the two concurrent sets race (last writer wins).
    await until(() => up.holdersOf(ref.hash).includes(server.url), 'the server listed')
    listHolders(up, ref.hash, [fake.url, fake.url + '/']) // listed twice: tried once
    const down = s.provider(server.url, 'corrupt')
    await down.whenSynced
    await until(() => down.holdersOf(ref.hash).includes(fake.url), 'the fake holder listed')
    const failed = []
    down.on('holder-failed', f => failed.push(f))
    const blob = await down.getBlob(ref.hash, { preferHolders: [fake.url] })
    assert.equal(sha256hex(await blobBytes(blob)), sha256hex(data))
    assert.equal(fake.requests, 1)
    assert.equal(failed.length, 1)
    assert.equal(failed[0].holder.replace(/\/$/, ''), fake.url) // either spelling, once
    assert.match(failed[0].error, why[mode])
  })
}

test('no holder delivers: the error names each holder tried and why; an unlisted hash is null', async t => {
  const s = scope(t)
  const server = await s.server()
  const p = s.provider(server.url, 'errors', { rounds: 1 })
  await p.whenSynced
  const data = randomBytes(CHUNK + 1)
  const hash = 'sha256:' + sha256hex(data) // never uploaded: the server does not hold it
  assert.equal(await p.getBlob(hash), null, 'no registry entry: null')
  assert.equal(await p.getBlobStream(hash), null)
  const fake = await fakeHolder(data, 'bad-chunk')
  t.after(() => fake.close())
  const [deadPort] = await freePorts(1)
  const dead = `ws://127.0.0.1:${deadPort}/sync`
  listHolders(p, hash, [fake.url, dead], { size: data.length, chunkCount: 2 })
  await assert.rejects(p.getBlob(hash), e => {
    assert.equal(e.name, 'BlobFetchError')
    assert.match(e.message, new RegExp(`cannot fetch ${hash} after 1 round`))
    assert.match(e.message, new RegExp(`${fake.url}: chunk 0 does not match its hash`))
    assert.match(e.message, new RegExp(`${dead}: cannot connect`))
    assert.match(e.message, new RegExp(`${server.url}: NOT_FOUND`))
    assert.deepEqual(e.attempts.map(x => x.holder).sort(), [fake.url, dead, server.url].sort())
    assert.equal(e.attempts.at(-1).holder, server.url, 'the connected server is tried last')
    return true
  })
  assert.equal(await p.hasBlob(hash), false, 'nothing wrong was cached')
})
