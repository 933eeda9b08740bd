// `blobsync migrate` (src/cli/migrate_command.cpp) on the real binary: copies
// every blob of the local store to another, skips what is already there on a
// re-run, refuses a store copied onto itself, names a bad URL, and exits 3
// without copying a blob whose bytes are corrupt at the source. (The copy
// itself, with S3 on either side, is Servers/MigrateTest.* in
// tests/store/migrate_test.cpp.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.BLOBSYNC_BIN;
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-migrate-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function blobsync(...args) {
  return spawnSync(BIN, args, { encoding: 'utf8' });
}
const blobFile = (dir, hex) => path.join(dir, 'blobs', hex.slice(0, 2), hex);

// Puts `count` random files into a fresh data dir; returns it and their hex hashes.
function storeWith(name, count, size) {
  const data = path.join(tmp, name);
  const hexes = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(tmp, `${name}-${i}.bin`);
    const bytes = crypto.randomBytes(size + i);
    fs.writeFileSync(file, bytes);
    const r = blobsync('--data', data, 'put', file);
    assert.equal(r.status, 0, r.stderr);
    hexes.push(crypto.createHash('sha256').update(bytes).digest('hex'));
  }
  return { data, hexes };
}

test('copies every blob, then skips them on a re-run', () => {
  const { data, hexes } = storeWith('a', 3, 300_000);
  const dest = path.join(tmp, 'b');
  let r = blobsync('--data', data, 'migrate', '--from', 'disk', '--to', `disk:${dest}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^migrated 3 blobs: 3 copied \(.* MiB\), 0 already there .*, 0 failed$/m);
  for (const hex of hexes) {
    assert.deepEqual(fs.readFileSync(blobFile(dest, hex)), fs.readFileSync(blobFile(data, hex)));
  }
  r = blobsync('--data', data, 'migrate', '--from', 'disk', '--to', `disk:${dest}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^migrated 3 blobs: 0 copied .*, 3 already there .*, 0 failed$/m);
});

test('usage errors: the same store twice, a bad URL, a missing flag', () => {
  const data = path.join(tmp, 'u');
  let r = blobsync('--data', data, 'migrate', '--from', 'disk', '--to', 'disk');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /same store/);
  r = blobsync('--data', data, 'migrate', '--from', 'disk', '--to', 'ftp://x/y');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--to: store: expected/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line on stderr');
  r = blobsync('--data', data, 'migrate', '--from', 'disk');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--to/);
});

test('a corrupt source blob is named, not copied, and exits 3', () => {
  const { data, hexes } = storeWith('c', 2, 1000);
  const bad = blobFile(data, hexes[0]);
  const bytes = fs.readFileSync(bad);
  bytes[10] ^= 0x01;
  fs.writeFileSync(bad, bytes);
  const dest = path.join(tmp, 'd');
  const r = blobsync('--data', data, 'migrate', '--from', 'disk', '--to', `disk:${dest}`);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`sha256:${hexes[0]}`));
  assert.match(r.stdout, /1 copied .*, 1 failed$/m);
  assert.equal(fs.existsSync(blobFile(dest, hexes[0])), false, 'corrupt bytes must not reach the destination');
  assert.ok(fs.existsSync(blobFile(dest, hexes[1])));
});
