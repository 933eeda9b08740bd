// Known-bad bytes are never served (issue #15, defect 4): a blob damaged on
// disk is quarantined by `blobsync verify` or by the server's own scrubber,
// after which no HTTP path answers 200 with its bytes; a verified upload of
// the same hash heals it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { startServer, xrpc, createAccount, cidOfBytes, BIN, SECRET } from './server.mjs';

const blobFile = (dir, hex) => path.join(dir, 'blobs', hex.slice(0, 2), hex);

// Flips one bit of a stored blob, as a failing disk would.
function flipBit(file, at) {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0x01;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

// The CLI on the live server's store (same data dir and metadata).
function cli(srv, ...args) {
  return spawnSync(BIN, ['--data', srv.dir, ...args], {
    env: { ...process.env, BLOBSYNC_JWT_SECRET: SECRET, BLOBSYNC_METADATA: srv.metadata }, encoding: 'utf8',
  });
}

const putBlob = (srv, token, hex, bytes) =>
  fetch(`${srv.base}/blobs/${hex}`, { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${token}` } });

async function metric(srv, name) {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : null;
}

async function until(cond, what, ms = 15000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// A refused read: an error status with an XRPC body, never the stored bytes.
async function assertRefused(res, bad) {
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 503);
  assert.notDeepEqual(body, bad, 'the damaged bytes are not served');
  const json = JSON.parse(body.toString());
  assert.equal(json.error, 'BlobQuarantined');
  assert.match(json.message, /quarantined/);
}

test('verify quarantines a damaged blob on a live server; nothing serves it; a verified upload heals it', async () => {
  const srv = await startServer({ BLOBSYNC_SCRUB_RATE: '0' });
  try {
    const a = await createAccount(srv.base, 'q');
    const bytes = crypto.randomBytes(300_000);  // two chunks
    const { hex } = cidOfBytes(bytes);
    assert.equal((await putBlob(srv, a.accessJwt, hex, bytes)).status, 201);
    const file = blobFile(srv.dir, hex);
    flipBit(file, 280_000);
    const bad = fs.readFileSync(file);

    const v = cli(srv, 'verify');
    assert.equal(v.status, 3, v.stderr);
    assert.match(v.stdout, new RegExp(`sha256:${hex}\\tchunk 1 hash mismatch \\(quarantined\\)`));
    assert.match(v.stderr, /1 blob quarantined/);

    await assertRefused(await fetch(`${srv.base}/blobs/${hex}`), bad);
    await assertRefused(await fetch(`${srv.base}/blobs/sha256:${hex}`, { headers: { range: 'bytes=0-9' } }), bad);
    const head = await fetch(`${srv.base}/blobs/${hex}`, { method: 'HEAD' });
    assert.equal(head.status, 503);

    // Operators see it and why.
    const stat = cli(srv, 'stat', hex);
    assert.equal(stat.status, 0, stat.stderr);
    assert.equal(JSON.parse(stat.stdout).quarantine, 'chunk 1 hash mismatch');
    assert.match(cli(srv, 'ls').stdout, new RegExp(`sha256:${hex}\\t300000\\t[^\\t]+\\tquarantined`));
    assert.equal(cli(srv, 'get', hex, '-o', path.join(srv.dir, 'out.bin')).status, 3, 'local get refuses too');

    // Wrong bytes under its hash change nothing; the right ones heal it.
    assert.equal((await putBlob(srv, a.accessJwt, hex, crypto.randomBytes(300_000))).status, 400);
    assert.equal((await fetch(`${srv.base}/blobs/${hex}`)).status, 503);
    assert.equal((await putBlob(srv, a.accessJwt, hex, bytes)).status, 201);
    const got = await fetch(`${srv.base}/blobs/${hex}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
    assert.deepEqual(fs.readFileSync(file), bytes);
    assert.equal(JSON.parse(cli(srv, 'stat', hex).stdout).quarantine, undefined);
    assert.equal(cli(srv, 'verify').status, 0);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('the scrubber quarantines on its own: getBlob and /blobs refuse, /metrics shows it', async () => {
  const srv = await startServer({ BLOBSYNC_SCRUB_RATE: '256MiB', BLOBSYNC_SCRUB_INTERVAL: '100ms' });
  try {
    const a = await createAccount(srv.base, 's');
    const bytes = crypto.randomBytes(200_000);
    const up = await xrpc(srv.base, 'POST', 'com.atproto.repo.uploadBlob',
      { token: a.accessJwt, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(up.status, 200);
    const blob = up.json.blob;
    const cid = blob.ref.$link;
    const created = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord', {
      token: a.accessJwt,
      body: { repo: a.did, collection: 'app.bsky.feed.post', validate: false,  // not an image: lexicon unchecked
        record: { $type: 'app.bsky.feed.post', text: 'x', createdAt: new Date().toISOString(),
          embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: blob }] } } },
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const { hex } = cidOfBytes(bytes);
    assert.equal((await fetch(`${srv.base}/blobs/${hex}`)).status, 200);
    await until(async () => (await metric(srv, 'blobsync_scrub_bytes_total')) >= bytes.length, 'a scrub of the good blob');
    assert.equal(await metric(srv, 'blobsync_store_quarantined_blobs'), 0);

    flipBit(blobFile(srv.dir, hex), 0);
    const bad = fs.readFileSync(blobFile(srv.dir, hex));
    await until(async () => (await metric(srv, 'blobsync_store_quarantined_blobs')) === 1, 'the scrubber to quarantine');
    assert.equal(await metric(srv, 'blobsync_scrub_failures_total'), 1);
    await assertRefused(await fetch(`${srv.base}/blobs/${hex}`), bad);
    const g = await fetch(`${srv.base}/xrpc/com.atproto.sync.getBlob?did=${a.did}&cid=${cid}`);
    await assertRefused(g, bad);
    assert.match(srv.stderr(), /scrub: quarantined sha256:[0-9a-f]{64}: chunk 0 hash mismatch/);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

// GET /blobs keeps hot blobs' rows and open files (store/hot_blobs.h); a
// change by another process (the CLI on the same store) must show in the
// very next request: no waiting, no stale bytes.
test('a hot blob quarantined, healed and removed by the CLI: each next GET sees it at once', async () => {
  const srv = await startServer({ BLOBSYNC_SCRUB_RATE: '0' });
  try {
    const a = await createAccount(srv.base, 'h');
    const bytes = crypto.randomBytes(16384);
    const { hex } = cidOfBytes(bytes);
    assert.equal((await putBlob(srv, a.accessJwt, hex, bytes)).status, 201);
    for (let i = 0; i < 3; i++) {  // hot now
      const r = await fetch(`${srv.base}/blobs/${hex}`);
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes);
    }
    const file = blobFile(srv.dir, hex);
    flipBit(file, 10);
    const bad = fs.readFileSync(file);
    const v = cli(srv, 'verify');
    assert.equal(v.status, 3, v.stderr);
    await assertRefused(await fetch(`${srv.base}/blobs/${hex}`), bad);

    // The heal writes a new file under the name: served from it, not from
    // the damaged one a cache might still hold open.
    assert.equal((await putBlob(srv, a.accessJwt, hex, bytes)).status, 201);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${srv.base}/blobs/${hex}`, { headers: { range: 'bytes=0-99' } });
      assert.equal(r.status, 206);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes.subarray(0, 100));
    }

    const rm = cli(srv, 'rm', hex);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal((await fetch(`${srv.base}/blobs/${hex}`)).status, 404);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});
