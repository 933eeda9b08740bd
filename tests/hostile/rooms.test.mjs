// Hostile: room names (issue 18, docs/security.md "Limits"). Opening and
// closing a room that never holds content stores nothing and keeps nothing
// in memory; a client address brings at most sync_max_new_rooms_per_address
// rooms into memory per minute, and the server holds at most sync_max_rooms.
// (Before issue 18 every name opened left a row in sync_rooms and a parked
// room in memory: 20,000 names, 20,000 rows and tens of MB of RSS.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { startServer, WebSocket, client, until, rss } from './hostile.mjs';

// The room store's rows, straight from meta.db (the rooms are in SQLite
// whatever the metadata backend).
function storedRooms(dir) {
  const r = spawnSync('sqlite3', [path.join(dir, 'meta.db'), 'SELECT name FROM sync_rooms ORDER BY name'],
    { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr || r.error}`);
  return r.stdout.split('\n').filter(Boolean);
}

// Opens /sync/<room> from localAddress; resolves with the close code and
// reason if the server closes it first, else 'open' once it is open.
function openWs(port, room, localAddress = '127.0.0.1') {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/sync/${room}`, { localAddress });
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', (code, reason) => resolve({ ws, code, reason: String(reason) }));
    // The server refuses after the upgrade: wait for its first message (the
    // room's greeting) before calling the room joined.
    ws.once('message', () => resolve({ ws, code: 0 }));
  });
}

// Opens and closes `count` names from four loopback addresses, 32 at a time.
async function churn(port, prefix, count) {
  let next = 0;
  const worker = async (w) => {
    while (next < count) {
      const i = next++;
      const { ws, code, reason } = await openWs(port, `${prefix}-${i}`, `127.0.0.${1 + (w % 4)}`);
      assert.equal(code, 0, `room ${prefix}-${i} was refused: ${code} ${reason}`);
      await new Promise((resolve) => { ws.on('close', resolve); ws.close(); });
    }
  };
  await Promise.all(Array.from({ length: 32 }, (_, w) => worker(w)));
}

test('20,000 empty room names opened and closed leave no rows and no memory behind', async () => {
  const srv = await startServer({ BLOBSYNC_SYNC_MAX_NEW_ROOMS_PER_ADDRESS: '0' });
  let c;
  try {
    // A room with content is stored (and only it).
    c = client(`ws://127.0.0.1:${srv.port}/sync`, 'hostile-rooms-kept');
    await c.synced;
    c.doc.getText('t').insert(0, 'kept');
    await until(() => storedRooms(srv.dir).includes('hostile-rooms-kept'), 'the room with content stored', 30000);

    await churn(srv.port, 'warm', 2000);  // allocator and SQLite warm-up
    const rssBefore = rss(srv.child.pid);
    const t0 = Date.now();
    await churn(srv.port, 'name', 18000);
    // The server unloads an empty room as its last connection leaves; give it a moment.
    await new Promise((r) => setTimeout(r, 500));
    const grown = rss(srv.child.pid) - rssBefore;
    const rows = storedRooms(srv.dir);
    const empty = rows.filter((n) => /^(warm|name)-/.test(n)).length;
    console.log(`# 18000 names in ${Date.now() - t0} ms; rows ${rows.length}; RSS +${(grown / 1048576).toFixed(1)} MiB`);
    assert.equal(empty, 0, `empty rooms were stored (${empty} of 20,000 names have a row)`);
    assert.ok(rows.includes('hostile-rooms-kept'), 'the room with content is still stored');
    // Per name this is 8 MiB / 18,000 = 466 bytes: what was left per parked room before.
    assert.ok(grown < 8 * 1048576, `RSS grew ${grown} bytes over 18,000 empty rooms`);

    // The stored room still syncs its content.
    c.destroy();
    c = client(`ws://127.0.0.1:${srv.port}/sync`, 'hostile-rooms-kept');
    await c.synced;
    assert.equal(c.doc.getText('t').toString(), 'kept');
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    c?.destroy();
    await srv.stop();
  }
});

test('new rooms per address per minute and rooms in memory are limited (1013)', async () => {
  const srv = await startServer({ BLOBSYNC_SYNC_MAX_NEW_ROOMS_PER_ADDRESS: '5', BLOBSYNC_SYNC_MAX_ROOMS: '8' });
  const open = [];
  try {
    for (let i = 0; i < 5; i++) {
      const r = await openWs(srv.port, `limit-a-${i}`, '127.0.0.2');
      assert.equal(r.code, 0, `room ${i} of 5 from one address is served`);
      open.push(r.ws);
    }
    let r = await openWs(srv.port, 'limit-a-5', '127.0.0.2');
    assert.equal(r.code, 1013, 'a 6th new room in a minute from one address is refused');
    assert.match(r.reason, /too many new rooms from this address/);
    // Joining a room already in memory is not a new room.
    r = await openWs(srv.port, 'limit-a-0', '127.0.0.2');
    assert.equal(r.code, 0, 'a room already open is joined');
    open.push(r.ws);

    // Another address has its own budget, up to 8 rooms in memory in all
    // (the server's own rooms, such as _mesh, count too).
    let served = 0;
    for (;;) {
      r = await openWs(srv.port, `limit-b-${served}`, '127.0.0.3');
      if (r.code !== 0) break;
      open.push(r.ws);
      served++;
      assert.ok(served <= 3, 'at most 8 rooms are in memory');
    }
    assert.ok(served >= 2, `another address is served (${served} rooms) until the server is full`);
    assert.equal(r.code, 1013, 'a room past sync_max_rooms is refused');
    assert.match(r.reason, /too many rooms open on this server/);

    // A room whose last connection leaves frees its place at once.
    for (const ws of [open[0], open[5]]) await new Promise((resolve) => { ws.on('close', resolve); ws.close(); });
    await new Promise((resolve) => setTimeout(resolve, 300));
    r = await openWs(srv.port, `limit-b-${served}`, '127.0.0.3');
    assert.equal(r.code, 0, `the place of an emptied room is free (got ${r.code} ${r.reason})`);
    open.push(r.ws);
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    for (const ws of open) ws.terminate();
    await srv.stop();
  }
});
