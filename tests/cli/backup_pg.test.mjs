// `blobsync backup` with the blob index in PostgreSQL (pg.backup, under
// tests/pg/pg_tmp.sh; skipped without $BLOBSYNC_TEST_PG_URL): the pins are
// written to and released from PostgreSQL, the blobs the index names are
// copied, the manifest says the index is not in meta.db, and a restored
// directory served with the same --metadata (as after a pg_restore) verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.BLOBSYNC_BIN;
const PG = process.env.BLOBSYNC_TEST_PG_URL;
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-backup-pg-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const blobsync = (args) => spawnSync(BIN, args, { encoding: 'utf8' });

test('PostgreSQL metadata: pins in PostgreSQL, blobs and meta.db copied, the index left to pg_dump', { skip: !PG && 'no BLOBSYNC_TEST_PG_URL' }, () => {
  const data = path.join(tmp, 'live');
  const hexes = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(tmp, `f${i}`);
    const bytes = crypto.randomBytes(20_000 + i);
    fs.writeFileSync(file, bytes);
    const r = blobsync(['--data', data, '--metadata', PG, 'put', file]);
    assert.equal(r.status, 0, r.stderr);
    hexes.push(crypto.createHash('sha256').update(bytes).digest('hex'));
  }
  const dest = path.join(tmp, 'backup');
  let r = blobsync(['--data', data, '--metadata', PG, 'backup', '--to', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 3 blobs \(.*\): 3 copied/);
  assert.match(r.stdout, /the blob index is in PostgreSQL: back it up with pg_dump/);
  for (const hex of hexes) {
    const s = blobsync(['--data', data, '--metadata', PG, 'stat', `sha256:${hex}`]);
    assert.deepEqual(JSON.parse(s.stdout).holds, ['pin:cli'], 'the run released its pins in PostgreSQL');
  }
  const snap = fs.readdirSync(path.join(dest, 'snapshots'))[0];
  assert.match(fs.readFileSync(path.join(dest, 'snapshots', snap, 'manifest'), 'utf8'), /^index postgresql$/m);

  const restored = path.join(tmp, 'restored');
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /the blob index was in PostgreSQL: restore it from your pg_dump/);
  r = blobsync(['--data', restored, '--metadata', PG, 'verify']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /verified 3 blobs/);
});
