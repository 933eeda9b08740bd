// Two blobsync servers sharing one data dir and one metadata database
// (PostgreSQL with BLOBSYNC_TEST_METADATA=postgresql, else SQLite
// DATA/meta.db), no load balancer: each client picks a server. With
// BLOBSYNC_TEST_STORE=s3 (needs PostgreSQL) each server has its own data
// dir and they share one S3 bucket (s3rver, started here) instead.
//  - what is uploaded to either is readable from both;
//  - concurrent duplicate uploads store one row and one file;
//  - GC running on both servers (grace 0, every second) while uploads of
//    overlapping content and record writes go to both never deletes what a
//    record references, and never leaves a row without its bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  startServer, xrpc, createAccount, storedBlobFiles, tempFiles, cidOfBytes, sql, USE_PG,
  freshPgDatabase, SECRET,
} from '../http/server.mjs';

const USE_S3 = process.env.BLOBSYNC_TEST_STORE === 's3';
const BUCKET = 'blobsync-multi';
let dir, dirB, metadata, store = '', s3dir, s3rver, a, b;

async function startS3rver() {
  s3dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-s3rver-'));
  // s3rver encrypts listing continuation tokens with DES: Node 20 needs the legacy provider.
  const main = path.join(path.dirname(new URL(import.meta.url).pathname), '../store/s3/s3rver_main.mjs');
  s3rver = spawn(process.execPath, ['--openssl-legacy-provider', main, s3dir, BUCKET],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    s3rver.stdout.on('data', (d) => { out += d; const m = out.match(/PORT (\d+)/); if (m) resolve(Number(m[1])); });
    s3rver.on('exit', (code) => reject(new Error(`s3rver exited ${code}`)));
  });
  return `s3://S3RVER:S3RVER@${BUCKET}?endpoint=http://127.0.0.1:${port}&region=us-east-1&path_style=1`;
}

before(async () => {
  if (USE_S3 && !USE_PG) throw new Error('BLOBSYNC_TEST_STORE=s3 needs BLOBSYNC_TEST_METADATA=postgresql');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-multi-'));
  dirB = USE_S3 ? fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-multi-b-')) : dir;
  metadata = USE_PG ? freshPgDatabase() : '';
  if (USE_S3) store = await startS3rver();
  const env = { BLOBSYNC_GC_INTERVAL: '1s', BLOBSYNC_GC_GRACE: '0', BLOBSYNC_STORE: store };
  a = await startServer(env, [], { dir, metadata });
  b = await startServer(env, [], { dir: dirB, metadata });
});
after(async () => {
  if (a) assert.equal(await a.stop(), 0);
  if (b) assert.equal(await b.stop(), 0);
  if (s3rver) s3rver.kill();
  for (const d of [dir, dirB, s3dir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

// `blobsync gc --grace 0` from a third process (own data dir when the bytes are in S3).
function gcProcess() {
  return spawn(process.env.BLOBSYNC_BIN, ['--data', dir, 'gc', '--grace', '0'], {
    env: { ...process.env, BLOBSYNC_METADATA: metadata, BLOBSYNC_STORE: store, BLOBSYNC_JWT_SECRET: SECRET },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}
function runGcNow() {
  return new Promise((resolve, reject) => {
    const child = gcProcess();
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gc exited ${code}: ${err}`))));
  });
}

// Committed blobs (hex) where the bytes live, and where to read one.
function storedObjects() {
  if (!USE_S3) return storedBlobFiles(dir);
  const p = path.join(s3dir, BUCKET, 'blobs');
  if (!fs.existsSync(p)) return [];
  return fs.readdirSync(p).filter((f) => f.endsWith('._S3rver_object')).map((f) => f.split('.')[0]);
}
function storedBytes(hex) {
  return USE_S3 ? fs.readFileSync(path.join(s3dir, BUCKET, 'blobs', `${hex}._S3rver_object`))
    : fs.readFileSync(path.join(dir, 'blobs', hex.slice(0, 2), hex));
}
function leftovers() {
  const out = [...tempFiles(dir), ...(dirB !== dir ? tempFiles(dirB) : [])];
  if (USE_S3) {
    const t = path.join(s3dir, BUCKET, 'tmp');
    if (fs.existsSync(t)) out.push(...fs.readdirSync(t).filter((f) => f.endsWith('._S3rver_object')));
  }
  return out;
}

const upload = (srv, token, bytes) => xrpc(srv.base, 'POST', 'com.atproto.repo.uploadBlob',
  { token, body: bytes, headers: { 'content-type': 'application/octet-stream' } });

async function login(srv, account) {
  const s = await xrpc(srv.base, 'POST', 'com.atproto.server.createSession',
    { body: { identifier: account.handle, password: 'hunter2' } });
  assert.equal(s.status, 200, `login on the other server: ${s.body}`);
  return s.json.accessJwt;
}

function post(did, blob, text) {
  return {
    // Random bytes in an image slot: validate false skips the lexicon's accept.
    repo: did, collection: 'app.bsky.feed.post', validate: false,
    record: { $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString(),
      embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: blob }] } },
  };
}

const hexOf = USE_PG ? "encode(hash, 'hex')" : 'lower(hex(hash))';
function blobRows() {
  return new Map(sql(metadata, dir, `SELECT ${hexOf}, state FROM blobs`).map(([h, s]) => [h, Number(s)]));
}

async function getBlob(srv, did, cid) {
  const r = await fetch(`${srv.base}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${cid}`);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

test('uploads to either server are readable from both', async () => {
  const acct = await createAccount(a.base, 'multi');
  const tokenB = await login(b, acct);
  const bytes = crypto.randomBytes(70_000);
  // The servers' GC runs at grace 0: an upload may be collected before the
  // record that references it (the record is then refused); upload again.
  let up, rec;
  for (let attempt = 0; attempt < 5; ++attempt) {
    up = await upload(a, acct.accessJwt, bytes);
    assert.equal(up.status, 200, String(up.body));
    rec = await xrpc(b.base, 'POST', 'com.atproto.repo.createRecord',
      { token: tokenB, body: post(acct.did, up.json.blob, 'from B') });
    if (rec.status !== 400 || rec.json.error !== 'BlobNotFound') break;
  }
  assert.equal(rec.status, 200, String(rec.body));
  for (const srv of [a, b]) {
    const got = await getBlob(srv, acct.did, up.json.blob.ref.$link);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, bytes);
    const list = await xrpc(srv.base, 'GET', 'com.atproto.sync.listBlobs', { query: { did: acct.did } });
    assert.deepEqual(list.json.cids, [up.json.blob.ref.$link]);
    const r = await xrpc(srv.base, 'GET', 'com.atproto.repo.getRecord',
      { query: { repo: acct.did, collection: 'app.bsky.feed.post', rkey: rec.json.uri.split('/').pop() } });
    assert.equal(r.status, 200);
  }
});

test('concurrent duplicate uploads to both servers store one row and one file', async () => {
  const acct = await createAccount(a.base, 'dup');
  const tokenB = await login(b, acct);
  const tokenOf = (i) => (i % 2 ? tokenB : acct.accessJwt);
  const serverOf = (i) => (i % 2 ? b : a);
  // XRPC uploads of one blob to both servers at once: all succeed, one CID.
  const temp = crypto.randomBytes(300_000);
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => upload(serverOf(i), tokenOf(i), temp)));
  for (const r of results) {
    assert.equal(r.status, 200, String(r.body));
    assert.equal(r.json.blob.ref.$link, results[0].json.blob.ref.$link);
  }
  // Plain-API uploads are permanent at once, so the servers' grace-0 GC
  // cannot interfere with counting: one row, one object, the right bytes.
  const bytes = crypto.randomBytes(300_000);
  const { hex } = cidOfBytes(bytes);
  const puts = await Promise.all(Array.from({ length: 16 }, (_, i) => fetch(`${serverOf(i).base}/blobs/${hex}`,
    { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${tokenOf(i)}` } })));
  for (const r of puts) assert.equal(r.status, 201, await r.text());
  const rows = sql(metadata, dir, `SELECT count(*), min(state) FROM blobs WHERE ${hexOf} = '${hex}'`);
  assert.deepEqual(rows[0], ['1', '1']);
  assert.equal(storedObjects().filter((f) => f === hex).length, 1);
  assert.deepEqual(storedBytes(hex), bytes);
  for (const srv of [a, b]) {
    const got = await fetch(`${srv.base}/blobs/${hex}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
  }
  assert.deepEqual(leftovers(), []);
});

// `blobsync gc --grace 0` from a third process, again and again until stopped.
function gcLoop(stop) {
  let sweeps = 0;
  const run = (async () => { while (!stop.done) { await runGcNow(); ++sweeps; } })();
  return { run, sweeps: () => sweeps };
}

test('GC on both servers never deletes what the other just referenced', async () => {
  const acct = await createAccount(a.base, 'race');
  const tokenB = await login(b, acct);
  const tokens = new Map([[a, acct.accessJwt], [b, tokenB]]);
  // A small pool of contents, so uploads often land on rows that GC is
  // about to delete or has just deleted; records are deleted again half the
  // time so blobs keep going back to temporary.
  const pool = Array.from({ length: 6 }, () => crypto.randomBytes(20_000 + crypto.randomInt(20_000)));
  const live = new Map();  // cid -> { bytes, records }
  let ok = 0, gone = 0;
  const stop = { done: false };
  const gc = gcLoop(stop);
  const worker = async (w) => {
    for (let i = 0; i < 40; ++i) {
      const [up, ref] = (w + i) % 2 ? [a, b] : [b, a];
      const bytes = pool[crypto.randomInt(pool.length)];
      const u = await upload(up, tokens.get(up), bytes);
      assert.equal(u.status, 200, String(u.body));
      if (crypto.randomInt(10) < 3) continue;  // an upload nobody references
      const cid = u.json.blob.ref.$link;
      const rec = await xrpc(ref.base, 'POST', 'com.atproto.repo.createRecord',
        { token: tokens.get(ref), body: post(acct.did, u.json.blob, `w${w} i${i}`) });
      if (rec.status !== 200) {
        // GC (grace 0) may collect the upload before the record: the record
        // is then refused, never created over a missing blob.
        assert.equal(rec.status, 400, String(rec.body));
        assert.equal(rec.json.error, 'BlobNotFound', String(rec.body));
        ++gone;
        continue;
      }
      ++ok;
      const entry = live.get(cid) ?? { bytes, records: 0 };
      entry.records++;
      live.set(cid, entry);
      for (const srv of [a, b]) {
        const got = await getBlob(srv, acct.did, cid);
        assert.equal(got.status, 200, `referenced blob must stay readable (${String(got.body)})`);
        assert.deepEqual(got.body, bytes);
      }
      if (crypto.randomInt(2)) {
        const del = await xrpc(up.base, 'POST', 'com.atproto.repo.deleteRecord',
          { token: tokens.get(up), body: { repo: acct.did, collection: 'app.bsky.feed.post', rkey: rec.json.uri.split('/').pop() } });
        assert.equal(del.status, 200, String(del.body));
        if (--entry.records === 0) live.delete(cid);
      }
    }
  };
  try {
    await Promise.all([0, 1, 2, 3].map(worker));
  } finally {
    stop.done = true;
    await gc.run;
  }
  assert.ok(ok > 0, 'some records were created');
  // Quiescent checks after one more sweep.
  await runGcNow();
  for (const [cid, { bytes }] of live) {
    for (const srv of [a, b]) {
      const got = await getBlob(srv, acct.did, cid);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, bytes);
    }
  }
  const rows = blobRows();
  const files = new Set(storedObjects());
  for (const [hex, state] of rows) {
    assert.ok(files.has(hex), `row ${hex} has its bytes`);
    assert.equal(state, 1, 'only referenced (permanent) blobs survive a grace-0 sweep');
  }
  for (const [hex] of sql(metadata, dir, 'SELECT DISTINCT hash FROM record_blob')) {
    assert.ok(rows.has(hex), `referenced blob ${hex} is indexed`);
  }
  assert.deepEqual(leftovers(), []);
  console.log(`# ${ok} records created, ${gone} uploads collected before their record, ${gc.sweeps()} extra sweeps`);
});
