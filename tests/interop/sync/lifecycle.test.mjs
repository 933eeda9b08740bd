// One blob lifecycle (issue 15, defect 1): whatever way a blob arrived, a
// room's registry entry keeps it; when the last hold goes it is collected
// after the grace period; before it goes, this server leaves every registry
// that lists it. Each case waits for a canary upload to be collected, so a
// sweep past the grace period has certainly run (no fixed sleeps).
import crypto from 'node:crypto'
import fs from 'node:fs'
import { Server, client, until, assert, tmpDir, main } from './harness.mjs'
import { BlobClient, memoryBlob, hashRef } from './blobclient.mjs'
import {
  createAccount, uploadBlob, xrpc, getBlob, cli, cliPutToRoom, blobRow, blobFile, forgetHolds, sweepPassed, hexOf
} from './lifecycle_util.mjs'

const registryOf = async (server, room) => {
  const c = client(server.url, room)
  await c.synced
  return c
}

main('blob lifecycle: rooms hold blobs, collection follows the last hold, withdraw before delete', async servers => {
  const dir = tmpDir('life')
  const work = tmpDir('life-client')
  const s = await new Server(dir, ['--gc-grace', '1s', '--gc-interval', '1s']).start()
  servers.push(s)
  const alice = await createAccount(s)

  // Defect 1, exact reproduction: uploadBlob X (never referenced), then the
  // same bytes through a room's blob channel (`blobsync put --server --room`).
  const x = crypto.randomBytes(300000)
  const hx = hexOf(x)
  await uploadBlob(s, alice, x)
  cliPutToRoom(s, 'r', x, work)
  const r = await registryOf(s, 'r')
  await until(() => (r.doc.getMap('_blobRegistry').get(`sha256:${hx}`)?.holders || []).includes(s.url), 'X listed in r')
  await sweepPassed(s, alice, dir, 'after the room upload')
  let got = await getBlob(s, hx)
  assert(got.status === 200 && got.bytes.equals(x), `X still served after the sweep (status ${got.status})`)
  assert(blobRow(dir, hx)?.[0] === '1', `X is permanent: ${JSON.stringify(blobRow(dir, hx))}`)

  // Same when a record referenced X2 and was deleted after X2 went into a room.
  const x2 = crypto.randomBytes(200000)
  const hx2 = hexOf(x2)
  const blob2 = await uploadBlob(s, alice, x2)
  const rec = await xrpc(s, 'POST', 'com.atproto.repo.createRecord', {
    token: alice.accessJwt,
    // Random bytes in an image slot: validate false skips the lexicon's accept.
    body: { repo: alice.did, collection: 'app.bsky.feed.post', validate: false, record: { text: 'x2', createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: blob2 }] } } }
  })
  assert(rec.status === 200, `createRecord: ${rec.text}`)
  const up = await BlobClient.connect(s.url, 'r')
  assert((await up.upload(memoryBlob(x2))).done, 'X2 uploaded to room r')
  const del = await xrpc(s, 'POST', 'com.atproto.repo.deleteRecord',
    { token: alice.accessJwt, body: { repo: alice.did, collection: 'app.bsky.feed.post', rkey: rec.json.uri.split('/').pop() } })
  assert(del.status === 200, 'record deleted')
  await sweepPassed(s, alice, dir, 'after the record went')
  got = await getBlob(s, hx2)
  assert(got.status === 200 && got.bytes.equals(x2), `X2 still served (status ${got.status})`)

  // `gc --dry-run` lists what would go and why, and changes nothing (on a
  // server without a sweeper of its own; the CLI works on the same store).
  const qdir = tmpDir('life-quiet')
  const q = await new Server(qdir, ['--gc-interval', '0']).start()
  servers.push(q)
  const bob = await createAccount(q)
  const lonely = crypto.randomBytes(5000)
  const hl = hexOf(lonely)
  await uploadBlob(q, bob, lonely)
  const pinned = crypto.randomBytes(4000)  // an explicit pin keeps what nothing else holds
  const hp = hexOf(pinned)
  await uploadBlob(q, bob, pinned)
  const pin = cli(['--data', qdir, 'pin', hp, '--label', 'test'])
  assert(pin.status === 0, `pin: ${pin.stderr}`)
  const inRoom = crypto.randomBytes(3000)
  const hr = hexOf(inRoom)
  await uploadBlob(q, bob, inRoom)
  cliPutToRoom(q, 'q', inRoom, work)
  const dry = cli(['--data', qdir, 'gc', '--dry-run', '--grace', '0'])
  assert(dry.status === 0, `gc --dry-run: ${dry.stderr}`)
  const lines = dry.stdout.trim().split('\n').map(l => JSON.parse(l))
  const summary = lines.pop()
  assert(summary.dryRun === true && summary.blobsDeleted === 0, `dry run summary: ${JSON.stringify(summary)}`)
  assert(lines.some(l => l.hash === `sha256:${hl}` && /no holds/.test(l.why)), `dry run lists the lonely upload: ${dry.stdout}`)
  assert(!lines.some(l => l.hash === `sha256:${hr}` || l.hash === `sha256:${hp}`), `dry run spares held blobs: ${dry.stdout}`)
  assert(fs.existsSync(blobFile(qdir, hl)) && blobRow(qdir, hl)?.[0] === '0', 'the dry run deleted nothing')
  const stat = JSON.parse(cli(['--data', qdir, 'stat', hr]).stdout)
  assert(stat.holds.includes(`room:q@${q.url}`), `stat names the room's hold: ${JSON.stringify(stat)}`)
  const real = cli(['--data', qdir, 'gc', '--grace', '0'])
  assert(real.status === 0 && !fs.existsSync(blobFile(qdir, hl)), `gc collects the lonely upload: ${real.stdout}${real.stderr}`)
  assert(fs.existsSync(blobFile(qdir, hp)) && fs.existsSync(blobFile(qdir, hr)), 'gc keeps the pinned and the listed blob')
  const unpin = cli(['--data', qdir, 'unpin', hp, '--label', 'test'])
  assert(unpin.status === 0, `unpin: ${unpin.stderr}`)
  cli(['--data', qdir, 'gc', '--grace', '0'])
  assert(!fs.existsSync(blobFile(qdir, hp)), 'unpinned and unreferenced: collected')

  // Rooms get collection: once the entry is gone from every room here, X goes.
  r.doc.getMap('_blobRegistry').delete(`sha256:${hx}`)
  await until(() => !fs.existsSync(blobFile(dir, hx)), 'X collected once its entry is gone', 30000)
  got = await getBlob(s, hx)
  assert(got.status === 404, `X no longer served: ${got.status}`)
  assert(blobRow(dir, hx) === null, 'X row gone')

  // A listed blob whose hold went missing (as the rules before holds left
  // them; here removed by hand) is not lost: the sweeper withdraws this server
  // from the entry before deleting, and that rewrite of the key, which the
  // room still has, puts the room's hold back, so the blob stays.
  const w = crypto.randomBytes(100000)
  const hw = hexOf(w)
  const up2 = await BlobClient.connect(s.url, 'old')
  assert((await up2.upload(memoryBlob(w))).done, 'W uploaded to room old')
  const old = await registryOf(s, 'old')
  await until(() => old.doc.getMap('_blobRegistry').has(hashRef(Buffer.from(hw, 'hex'))), 'W listed')
  forgetHolds(dir, hw)
  await until(() => !(old.doc.getMap('_blobRegistry').get(`sha256:${hw}`)?.holders || []).includes(s.url),
    'the sweeper withdrew the server from W\'s entry before deciding its bytes')
  await sweepPassed(s, alice, dir, 'after the withdrawal')
  assert(fs.existsSync(blobFile(dir, hw)) && blobRow(dir, hw)?.[0] === '1', 'W kept: its entry still holds it')
  const wstat = JSON.parse(cli(['--data', dir, 'stat', hw]).stdout)
  assert(wstat.holds.includes(`room:old@${s.url}`), `W's room hold is back: ${JSON.stringify(wstat)}`)

  r.destroy(); old.destroy(); up.close(); up2.close()
})
