// `blobsync backup --to s3://BUCKET/PREFIX?...` and `restore --from s3://...`
// against the real s3rver (tests/node_modules, started here on loopback):
// the same layout as objects (PREFIX blobs/<hex>, PREFIX snapshots/<ID>/...,
// the manifest uploaded last), incremental runs, a run killed midway leaves a
// snapshot without a manifest that no restore sees and the next run deletes,
// and a blob tampered with in the bucket stops the restore naming it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.BLOBSYNC_BIN;
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary');
const BUCKET = 'backups';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-backup-s3-'));
const s3dir = path.join(tmp, 's3rver');
fs.mkdirSync(s3dir);
// s3rver encrypts listing continuation tokens with DES: Node 20 needs the legacy provider.
const main = path.join(path.dirname(new URL(import.meta.url).pathname), '../store/s3/s3rver_main.mjs');
const s3rver = spawn(process.execPath, ['--openssl-legacy-provider', main, s3dir, BUCKET],
  { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
const port = await new Promise((resolve, reject) => {
  let out = '';
  s3rver.stdout.on('data', (d) => { out += d; const m = out.match(/PORT (\d+)/); if (m) resolve(Number(m[1])); });
  s3rver.on('exit', (code) => reject(new Error(`s3rver exited ${code}`)));
});
after(() => { s3rver.kill(); fs.rmSync(tmp, { recursive: true, force: true }); });
const url = (prefix) =>
  `s3://S3RVER:S3RVER@${BUCKET}/${prefix}?endpoint=http://127.0.0.1:${port}&region=us-east-1&path_style=1`;
// s3rver keeps each object at DIR/BUCKET/<key>/object... (its file layout).
const objectFile = (key) => {
  const hits = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.includes(key) && e.name.endsWith('object')) hits.push(p);
    }
  };
  walk(path.join(s3dir, BUCKET));
  return hits[0];
};

const blobsync = (args, env = {}) => spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, ...env } });
const summary = /^backup (\S+): (\d+) blobs \(.*\): (\d+) copied \(.*\), (\d+) already in the backup \(.*\), (\d+) failed$/m;

function putBlobs(data, count, tag) {
  const hexes = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(tmp, `${tag}-${i}`);
    const bytes = crypto.randomBytes(30_000 + i);
    fs.writeFileSync(file, bytes);
    const r = blobsync(['--data', data, 'put', file]);
    assert.equal(r.status, 0, r.stderr);
    hexes.push(crypto.createHash('sha256').update(bytes).digest('hex'));
  }
  return hexes;
}

test('backup to S3 and restore from it: incremental, interrupted, tampered', () => {
  const data = path.join(tmp, 'live');
  const hexes = putBlobs(data, 4, 'a');
  assert.equal(blobsync(['--data', data, 'token', 'create', '--room', 'x']).status, 0);
  const to = url('site1/');

  // Killed after two blobs: no manifest, so no snapshot.
  let r = blobsync(['--data', data, 'backup', '--to', to], { BLOBSYNC_TEST_BACKUP_CRASH_AFTER: '2' });
  assert.equal(r.status, 137, r.stderr);
  r = blobsync(['--data', path.join(tmp, 'r0'), 'restore', '--from', to]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no complete snapshot in s3:\/\/backups\/site1\/snapshots\//);

  r = blobsync(['--data', data, 'backup', '--to', to]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^removed 1 unfinished snapshot of an interrupted backup$/m);
  assert.deepEqual(r.stdout.match(summary).slice(2, 6).map(Number), [4, 2, 2, 0]);
  assert.match(r.stdout, /^snapshot s3:\/\/backups\/site1\/snapshots\/\S+ complete: meta\.db, 1 secret file, manifest$/m);
  assert.equal(fs.existsSync(path.join(data, 'backup-staging')), false, 'the local staging is gone');

  const more = putBlobs(data, 2, 'b');
  r = blobsync(['--data', data, 'backup', '--to', to]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.match(summary).slice(2, 6).map(Number), [6, 2, 4, 0]);

  const restored = path.join(tmp, 'restored');
  r = blobsync(['--data', restored, 'restore', '--from', to]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 6 blobs \(.*\) verified, meta\.db, 1 secret file$/m);
  assert.deepEqual(fs.readdirSync(restored).sort(), ['blobs', 'meta.db', 'room_token.secret']);
  assert.equal(fs.statSync(path.join(restored, 'room_token.secret')).mode & 0o777, 0o600);
  r = blobsync(['--data', restored, 'verify']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /verified 6 blobs/);

  // A blob changed in the bucket is named; nothing is left in NEWDIR.
  const file = objectFile(`blobs/${more[0]}`);
  assert.ok(file, 'found the blob object in s3rver\'s directory');
  const bytes = fs.readFileSync(file);
  bytes[5] ^= 0x01;
  fs.writeFileSync(file, bytes);
  const bad = path.join(tmp, 'bad');
  r = blobsync(['--data', bad, 'restore', '--from', to]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`blob sha256:${more[0]} in the backup is corrupt`));
  assert.deepEqual(fs.readdirSync(bad), []);
  void hexes;
});
