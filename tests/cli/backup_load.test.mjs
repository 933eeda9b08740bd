// `blobsync backup` of a server under load (issue 21): uploads (PUT /blobs
// with an account, and PUT /blobs?room=R, held by the room's registry) and
// Y.Text edits through y-websocket run without pause while the backup runs,
// with the sweeper running every second at grace 0. Every blob acknowledged
// (201) and every edit acknowledged (seen by a second client, so durable:
// rooms persist before they broadcast) before the backup started must be in
// the snapshot. The server is then SIGKILLed, the backup restored elsewhere,
// `verify` passes, a server serves the restored directory: every such blob
// comes back byte for byte and the room's text holds every such edit. A
// second backup (of the restored, serving directory) after more uploads
// copies exactly the new blobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const BIN = process.env.BLOBSYNC_BIN;
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary');
process.env.BLOBSYNC_SYNC_BIN = BIN;  // the sync harness starts this binary
const { Server, client, until, tmpDir } = await import('../interop/sync/harness.mjs');

const tmp = tmpDir('backup-load');
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const ROOM = 'team/notes';

function blobsync(args) {
  return spawnSync(BIN, args, { encoding: 'utf8' });
}
function blobsyncAsync(args) {
  const p = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  p.stdout.on('data', (d) => { stdout += d; });
  p.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => p.on('exit', (status) => resolve({ status, stdout, stderr })));
}
const summary = /^backup (\S+): (\d+) blobs \(.*\): (\d+) copied \(.*\), (\d+) already in the backup \(.*\), (\d+) failed$/m;

async function createAccount(base) {
  const handle = `bk${crypto.randomBytes(3).toString('hex')}.test`;
  const res = await fetch(`${base}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, email: `${handle}@example.com`, password: 'hunter22' }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).accessJwt;
}

// Puts one random blob; resolves to its hex once the server answered 201.
async function putBlob(base, token, acked, i) {
  const body = crypto.randomBytes(1000 + ((i * 7919) % 60000));
  const hex = sha(body);
  const inRoom = i % 3 === 0;
  const url = `${base}/blobs/${hex}${inRoom ? `?room=${encodeURIComponent(ROOM)}` : ''}`;
  const res = await fetch(url, {
    method: 'PUT', body,
    headers: { 'content-type': 'application/octet-stream', ...(inRoom ? {} : { authorization: `Bearer ${token}` }) },
  });
  await res.arrayBuffer();
  assert.equal(res.status, 201, `PUT ${url}`);
  acked.set(hex, body);
  return hex;
}

test('a backup under upload and edit load restores every acknowledged blob and edit', async () => {
  const data = path.join(tmp, 'live');
  const server = await new Server(data, ['--gc-grace', '0s', '--gc-interval', '1s']).start();
  const base = `http://${server.addr}`;
  const token = await createAccount(base);
  const dest = path.join(tmp, 'backup');

  // The load: two uploaders and one editor, until `stop`.
  let stop = false;
  const acked = new Map();  // hex -> bytes, once 201 came back
  let n = 0;
  const uploader = async () => { while (!stop) await putBlob(base, token, acked, n++); };
  const writer = client(server.url, ROOM);
  const observer = client(server.url, ROOM);
  await Promise.all([writer.synced, observer.synced]);
  let edits = 0;
  const editor = async () => {
    while (!stop) {
      const text = writer.doc.getText('log');
      text.insert(text.length, `e${edits++};`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  let killing = false, loadError = null;
  const load = Promise.all([uploader(), uploader(), editor()]).catch((e) => { if (!killing) loadError = e; });
  await until(() => loadError || (acked.size >= 150 && observer.doc.getText('log').length >= 600), 'load under way');
  assert.equal(loadError, null, String(loadError));

  // What was acknowledged before the backup starts.
  const blobsBefore = new Map(acked);
  const textBefore = observer.doc.getText('log').toString();
  const backup = await blobsyncAsync(['--data', data, 'backup', '--to', dest]);
  const ackedDuring = acked.size - blobsBefore.size;
  assert.equal(backup.status, 0, backup.stderr);
  const m1 = backup.stdout.match(summary);
  assert.ok(m1, backup.stdout);
  assert.ok(Number(m1[2]) >= blobsBefore.size, `snapshot has ${m1[2]} blobs, ${blobsBefore.size} were acknowledged`);
  assert.equal(Number(m1[3]), Number(m1[2]), 'a first backup copies every blob');
  assert.ok(ackedDuring > 0, 'uploads went on during the backup');
  console.log(`acknowledged before the backup: ${blobsBefore.size} blobs, ${textBefore.length} chars of edits; ` +
    `during it: ${ackedDuring} blobs; ${backup.stdout.trim().split('\n').at(-2)}`);

  // More load after the backup, then a crash.
  await until(() => acked.size > blobsBefore.size + ackedDuring + 10, 'uploads after the backup');
  killing = true;  // requests cut by the kill are expected to fail
  await server.kill('SIGKILL');
  stop = true;
  await load;
  assert.equal(loadError, null, `the load failed before the kill: ${loadError}`);
  writer.destroy(); observer.destroy();

  const restored = path.join(tmp, 'restored');
  let r = blobsync(['--data', restored, 'restore', '--from', dest]);
  assert.equal(r.status, 0, r.stderr);
  r = blobsync(['--data', restored, 'verify']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`verified ${m1[2]} blobs .*: 0 problems`));

  const again = await new Server(restored, []).start();
  try {
    const base2 = `http://${again.addr}`;
    for (const [hex, bytes] of blobsBefore) {
      const res = await fetch(`${base2}/blobs/${hex}`);
      assert.equal(res.status, 200, `blob ${hex} acknowledged before the backup is served`);
      assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(bytes));
    }
    const reader = client(again.url, ROOM);
    await reader.synced;
    const text = reader.doc.getText('log').toString();
    assert.ok(text.startsWith(textBefore),
      `every edit acknowledged before the backup is in the room (${textBefore.length} chars before, ${text.length} restored)`);
    reader.destroy();

    // A second backup after more uploads copies exactly the new ones.
    const token2 = await createAccount(base2);
    const more = new Map();
    for (let i = 0; i < 7; i++) await putBlob(base2, token2, more, 100000 + i);
    const second = await blobsyncAsync(['--data', restored, 'backup', '--to', dest]);
    assert.equal(second.status, 0, second.stderr);
    const m2 = second.stdout.match(summary);
    assert.deepEqual(m2.slice(2, 6).map(Number), [Number(m1[2]) + 7, 7, Number(m1[2]), 0]);
  } finally {
    await again.kill('SIGTERM');
  }
});
