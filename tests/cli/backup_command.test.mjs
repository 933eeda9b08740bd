// `blobsync backup` and `blobsync restore` (src/cli/backup_command.cpp,
// src/store/backup.cpp, restore.cpp) on the real binary, without a server:
// incremental runs, what a restored directory holds (secrets 0600, pins of
// the run dropped, `verify` passes), and every way it must fail loudly: a
// destination that cannot be written, a backup killed midway (the re-run
// releases its pins and copies only what is missing), a tampered or missing
// blob in the backup, a non-empty NEWDIR, and GC with grace 0 running while
// the backup copies (the snapshot's blobs stay until copied, then go).
// The same under a live server's upload and edit load: backup_load.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.BLOBSYNC_BIN;
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-backup-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function blobsync(args, env = {}) {
  return spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, ...env } });
}
const blobFile = (dir, hex) => path.join(dir, 'blobs', hex.slice(0, 2), hex);
const snapshots = (dest) => fs.readdirSync(path.join(dest, 'snapshots')).filter((n) => !n.startsWith('.')).sort();
const partials = (dest) => fs.readdirSync(path.join(dest, 'snapshots')).filter((n) => n.startsWith('.partial-'));

// Puts `count` random files into `data` (pinned pin:cli); returns their hex hashes.
function putBlobs(data, count, size, tag) {
  const hexes = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(tmp, `${tag}-${i}.bin`);
    const bytes = crypto.randomBytes(size + i);
    fs.writeFileSync(file, bytes);
    const r = blobsync(['--data', data, 'put', file]);
    assert.equal(r.status, 0, r.stderr);
    hexes.push(crypto.createHash('sha256').update(bytes).digest('hex'));
  }
  return hexes;
}

function holdsOf(data, hex) {
  const r = blobsync(['--data', data, 'stat', `sha256:${hex}`]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).holds;
}

const summary = /^backup (\S+): (\d+) blobs \(.*\): (\d+) copied \(.*\), (\d+) already in the backup \(.*\), (\d+) failed$/m;

test('incremental: a second run copies only new blobs; restore rebuilds a directory verify passes', () => {
  const data = path.join(tmp, 'inc');
  const first = putBlobs(data, 4, 50_000, 'inc');
  assert.equal(blobsync(['--data', data, 'token', 'create', '--room', 'x']).status, 0);  // makes room_token.secret
  const dest = path.join(tmp, 'inc-backup');
  let r = blobsync(['--data', data, 'backup', '--to', dest]);
  assert.equal(r.status, 0, r.stderr);
  let m = r.stdout.match(summary);
  assert.ok(m, r.stdout);
  assert.deepEqual(m.slice(2, 6).map(Number), [4, 4, 0, 0]);
  assert.equal(fs.statSync(dest).mode & 0o777, 0o700, 'the backup directory is private');

  const later = putBlobs(data, 2, 70_000, 'inc2');
  r = blobsync(['--data', data, 'backup', '--to', dest]);
  assert.equal(r.status, 0, r.stderr);
  m = r.stdout.match(summary);
  assert.deepEqual(m.slice(2, 6).map(Number), [6, 2, 4, 0], 'only the two new blobs are copied');
  assert.equal(snapshots(dest).length, 2);
  assert.equal(partials(dest).length, 0);

  // No backup pin is left on the live blobs.
  for (const hex of [...first, ...later]) assert.deepEqual(holdsOf(data, hex), ['pin:cli']);

  const restored = path.join(tmp, 'inc-restored');
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^restored snapshot \S+ into .*: 6 blobs \(.*\) verified, meta\.db, 1 secret file$/m);
  for (const hex of [...first, ...later]) {
    assert.deepEqual(fs.readFileSync(blobFile(restored, hex)), fs.readFileSync(blobFile(data, hex)));
    assert.deepEqual(holdsOf(restored, hex), ['pin:cli'], 'the pins of the run are not in the restored copy');
  }
  for (const name of ['meta.db', 'room_token.secret']) {
    assert.equal(fs.statSync(path.join(restored, name)).mode & 0o777, 0o600, `${name} is 0600`);
  }
  assert.deepEqual(fs.readFileSync(path.join(restored, 'room_token.secret')),
    fs.readFileSync(path.join(data, 'room_token.secret')));
  r = blobsync(['--data', restored, 'verify']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /verified 6 blobs .*: 0 problems/);

  // --snapshot picks an older one: the first run's four blobs only.
  const older = path.join(tmp, 'inc-older');
  r = blobsync(['--data', older, 'restore', '--from', dest, '--snapshot', snapshots(dest)[0]]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 4 blobs /);
  r = blobsync(['--data', path.join(tmp, 'nope'), 'restore', '--from', dest, '--snapshot', '19990101T000000Z']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no complete snapshot 19990101T000000Z/);
});

test('a destination that cannot be written is one clear error, and nothing stays pinned', () => {
  const data = path.join(tmp, 'unwritable');
  const [hex] = putBlobs(data, 1, 1000, 'unw');
  for (const to of ['/dev/null/backup', '/proc/blobsync-backup']) {
    const r = blobsync(['--data', data, 'backup', '--to', to]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^blobsync: --to: /);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line on stderr');
  }
  assert.deepEqual(holdsOf(data, hex), ['pin:cli']);
  // The wrong --store (every blob missing) is no snapshot of quarantined rows but an error.
  let r = blobsync(['--data', data, '--store', `disk:${path.join(tmp, 'elsewhere')}`, 'backup', '--to',
    path.join(tmp, 'wrong-store')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /none of the 1 blobs the index names is in the blob store .*is --store the server's\?/);
  assert.equal(snapshots(path.join(tmp, 'wrong-store')).length, 0);
  assert.deepEqual(holdsOf(data, hex), ['pin:cli']);
  r = blobsync(['--data', path.join(tmp, 'absent'), 'backup', '--to', path.join(tmp, 'x')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no data directory to back up/);
  assert.equal(fs.existsSync(path.join(tmp, 'absent')), false, 'no data directory is created');
});

test('a backup killed midway: the re-run releases its pins, removes the partial snapshot, copies only what is missing', () => {
  const data = path.join(tmp, 'killed');
  const hexes = putBlobs(data, 6, 20_000, 'killed');
  const dest = path.join(tmp, 'killed-backup');
  let r = blobsync(['--data', data, 'backup', '--to', dest], { BLOBSYNC_TEST_BACKUP_CRASH_AFTER: '2' });
  assert.equal(r.status, 137, r.stderr);
  assert.equal(snapshots(dest).length, 0, 'an interrupted backup never looks finished');
  assert.equal(partials(dest).length, 1);
  const stale = holdsOf(data, hexes[0]).filter((h) => h.startsWith('pin:backup-'));
  assert.equal(stale.length, 1, 'the crashed run left its pin (visible in stat)');
  // A restore sees no snapshot at all.
  r = blobsync(['--data', path.join(tmp, 'killed-r0'), 'restore', '--from', dest]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no complete snapshot/);

  r = blobsync(['--data', data, 'backup', '--to', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^released ${stale[0]}, left by an interrupted backup$`, 'm'));
  assert.match(r.stdout, /^removed 1 unfinished snapshot of an interrupted backup$/m);
  const m = r.stdout.match(summary);
  assert.deepEqual(m.slice(2, 6).map(Number), [6, 4, 2, 0], 'the two copied before the kill are skipped');
  for (const hex of hexes) assert.deepEqual(holdsOf(data, hex), ['pin:cli']);
  assert.equal(partials(dest).length, 0);

  const restored = path.join(tmp, 'killed-r');
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(blobsync(['--data', restored, 'verify']).status, 0);
});

test('restore: a tampered or missing blob in the backup is named, exits 3 and leaves NEWDIR empty', () => {
  const data = path.join(tmp, 'tamper');
  const hexes = putBlobs(data, 3, 10_000, 'tamper');
  const dest = path.join(tmp, 'tamper-backup');
  assert.equal(blobsync(['--data', data, 'backup', '--to', dest]).status, 0);

  const bad = blobFile(dest, hexes[1]);
  const original = fs.readFileSync(bad);
  const flipped = Buffer.from(original);
  flipped[100] ^= 0x01;
  fs.writeFileSync(bad, flipped);
  const restored = path.join(tmp, 'tamper-r');
  let r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`^blobsync: blob sha256:${hexes[1]} in the backup is corrupt`));
  assert.deepEqual(fs.readdirSync(restored), [], 'nothing half-restored is left');

  fs.rmSync(bad);
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`blob sha256:${hexes[1]} \\(10001 bytes\\) is missing from the backup`));

  // The next backup puts the missing blob back (the destination lacks it), and restore works again.
  r = blobsync(['--data', data, 'backup', '--to', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.match(summary).slice(2, 6).map(Number), [3, 1, 2, 0]);
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);

  // A tampered manifest is refused before anything is written.
  const snap = path.join(dest, 'snapshots', snapshots(dest).at(-1));
  const manifest = fs.readFileSync(path.join(snap, 'manifest'), 'utf8');
  fs.writeFileSync(path.join(snap, 'manifest'), manifest.replace(/\nend\n$/, '\n'));
  r = blobsync(['--data', path.join(tmp, 'tamper-r2'), 'restore', '--from', dest]);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /manifest .* is cut short/);
});

test('restore refuses a non-empty NEWDIR and a directory that is no backup', () => {
  const data = path.join(tmp, 'nonempty');
  putBlobs(data, 1, 1000, 'ne');
  const dest = path.join(tmp, 'nonempty-backup');
  assert.equal(blobsync(['--data', data, 'backup', '--to', dest]).status, 0);
  const target = path.join(tmp, 'nonempty-target');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'keep.txt'), 'mine');
  let r = blobsync(['--data', target, 'restore', '--from', dest]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is not empty: restore only into a new or empty directory/);
  assert.deepEqual(fs.readdirSync(target), ['keep.txt']);
  // The live data directory itself is not empty either.
  r = blobsync(['--data', data, 'restore', '--from', dest]);
  assert.equal(r.status, 1);
  r = blobsync(['--data', path.join(tmp, 'nb'), 'restore', '--from', data]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /is not a blobsync backup/);
  r = blobsync(['--data', data, 'backup', '--to', data]);
  assert.equal(r.status, 2);
  r = blobsync(['--data', data, 'backup']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--to/);
});

test('GC with grace 0 during a backup collects no blob of the snapshot until it is copied', async () => {
  const data = path.join(tmp, 'gc');
  const hexes = putBlobs(data, 8, 5_000, 'gc');
  // Nothing holds them any more: GC with grace 0 would take them at once.
  let r = blobsync(['--data', data, 'unpin', ...hexes.map((h) => `sha256:${h}`)]);
  assert.equal(r.status, 0, r.stderr);
  const dest = path.join(tmp, 'gc-backup');
  const backup = spawn(BIN, ['--data', data, 'backup', '--to', dest], {
    env: { ...process.env, BLOBSYNC_TEST_BACKUP_SLOW_MS: '150' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '', err = '';
  backup.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => backup.on('exit', resolve));
  await new Promise((resolve, reject) => {
    backup.stderr.on('data', (d) => { err += d; if (/test hook: copying 8 blobs/.test(err)) resolve(); });
    exited.then(() => reject(new Error(`backup exited early: ${err}`)));
  });
  // The copy is under way (one blob each 150 ms): collect everything collectable, twice.
  for (let i = 0; i < 2; i++) {
    r = blobsync(['--data', data, 'gc', '--grace', '0']);
    assert.equal(r.status, 0, r.stderr);
    for (const hex of hexes) assert.ok(fs.existsSync(blobFile(data, hex)), `GC took ${hex} from under the backup`);
  }
  assert.equal(await exited, 0, err);
  assert.deepEqual(out.match(summary).slice(2, 6).map(Number), [8, 8, 0, 0]);

  const restored = path.join(tmp, 'gc-r');
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);
  r = blobsync(['--data', restored, 'verify']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /verified 8 blobs/);
  // The run's pins are gone: now GC may take them from the live directory.
  r = blobsync(['--data', data, 'gc', '--grace', '0']);
  assert.equal(r.status, 0, r.stderr);
  for (const hex of hexes) assert.equal(fs.existsSync(blobFile(data, hex)), false, 'released after the copy');
});

test('a blob gone bad in the live store is named (exit 3) and quarantined in a snapshot that has the rest', () => {
  const data = path.join(tmp, 'rot');
  const hexes = putBlobs(data, 3, 4000, 'rot');
  const bad = blobFile(data, hexes[1]);
  const bytes = fs.readFileSync(bad);
  bytes[7] ^= 0x01;
  fs.writeFileSync(bad, bytes);
  const dest = path.join(tmp, 'rot-backup');
  let r = blobsync(['--data', data, 'backup', '--to', dest]);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`^blobsync: sha256:${hexes[1]}: source bytes do not match`, 'm'));
  assert.match(r.stderr, /1 blob is damaged in the live store .* not in the snapshot \(quarantined in it\)/);
  assert.match(r.stdout, /^snapshot .* complete: /m);
  assert.deepEqual(holdsOf(data, hexes[1]), ['pin:cli'], 'pins released');

  const restored = path.join(tmp, 'rot-r');
  r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 2 blobs /);
  const st = JSON.parse(blobsync(['--data', restored, 'stat', `sha256:${hexes[1]}`]).stdout);
  assert.match(st.quarantine, /^backup: source bytes do not match/);
  for (const hex of [hexes[0], hexes[2]]) assert.ok(fs.existsSync(blobFile(restored, hex)));
  r = blobsync(['--data', restored, 'verify']);
  assert.equal(r.status, 3, 'verify still reports the blob the backup could not have');
  assert.match(r.stdout + r.stderr, new RegExp(hexes[1]));
});
