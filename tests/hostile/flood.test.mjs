// Hostile: 200 connections each pipelining maximum-size frames (awareness
// updates of max_frame_bytes, sent without waiting for anything and never
// reading) at one room. The server must neither buffer them without bound
// (a sender is paused once max_queued_bytes_per_connection of its messages
// wait for the room, a reader that far behind is disconnected) nor starve
// other rooms: two y-websocket clients in another room still sync, every
// edit within CALM_BOUND_MS while the flood lasts, and the
// server's RSS stays under a bound derived from the configuration.
// This one passes on the server from before issue 18 too: it already
// closed a reader 16 MiB behind, which ends these flooders as quickly; what
// issue 18 adds here (the byte bound on messages waiting for the room, up
// to 64 of any size before) is the part of the RSS bound derived above.
// The second test fails there: a reader too far behind was cut (1006), not
// closed with 1013.
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import assert from 'node:assert/strict';
import { startServer, WebSocket, client, until, rss, awarenessFrame } from './hostile.mjs';

const CONNS = 200;
const FRAME = 256 << 10;   // max_frame_bytes
const QUEUED = 1 << 20;    // max_queued_bytes_per_connection
const FRAMES = 40;         // per connection: 10 MiB each, 2 GiB in all
const HIGH_WATER = 256 << 10;  // ws_session.cpp CoalescingSocket::kHighWater
// The calm room's slowest sync during the flood. Measured (2026-12-07, 2 cores, load 8-12 from
// other builds and benchmarks, flooders in their worker): main's binary 156-523 ms, the rooms on
// the I/O threads with bounded turns 72-209 ms, medians 21-22 ms (the poll below is 20 ms). A room
// starved by the flood (a thread held by the flooded room) waited seconds; 3 s leaves a loaded CI
// machine 6x main's worst and still fails that.
const CALM_BOUND_MS = 3000;

test('200 connections flooding one room: bounded memory, other rooms live', { timeout: 170000 }, async () => {
  const srv = await startServer({
    BLOBSYNC_MAX_FRAME_BYTES: String(FRAME), BLOBSYNC_MAX_QUEUED_BYTES_PER_CONNECTION: String(QUEUED),
    BLOBSYNC_MAX_CONNECTIONS: '1000', BLOBSYNC_MAX_CONNECTIONS_PER_IP: '1000',
  });
  const url = `ws://127.0.0.1:${srv.port}/sync`;
  let a, b, sampler, worker;
  try {
    a = client(url, 'hostile-calm');
    b = client(url, 'hostile-calm');
    await Promise.all([a.synced, b.synced]);
    const base = rss(srv.child.pid);
    // Per connection: a frame being read, QUEUED waiting for the room, QUEUED
    // waiting for the socket plus the socket's own copy (high water and one
    // frame), and its awareness state; plus slack for the allocator.
    const bound = base + CONNS * (3 * FRAME + 2 * QUEUED + HIGH_WATER) + (256 << 20);
    let peak = base;
    sampler = setInterval(() => { peak = Math.max(peak, rss(srv.child.pid)); }, 50);

    // The flooders run in a worker thread (flooder.mjs): pumping 2 GiB on this
    // thread's event loop would delay the calm clients, not the server.
    worker = new Worker(new URL('./flooder.mjs', import.meta.url),
      { workerData: { url: `${url}/hostile-flood`, conns: CONNS, frame: FRAME, frames: FRAMES } });
    let outcomes;
    const flooded = new Promise((resolve, reject) => {
      worker.on('message', (m) => { if (Array.isArray(m)) { outcomes = m; resolve(); } });
      worker.once('error', reject);
    });
    const floodStart = Date.now();

    // Meanwhile another room syncs: an edit each way, again and again while
    // the flood lasts; the slowest must stay under CALM_BOUND_MS.
    const times = [];
    let floodOver = false;
    flooded.then(() => { floodOver = true; }, () => { floodOver = true; });
    for (let k = 0; !floodOver || k === 0; k++) {
      const [from, to] = k % 2 ? [b, a] : [a, b];
      const expect = `${k};` + to.doc.getText('t').toString();
      const t0 = Date.now();
      from.doc.getText('t').insert(0, `${k};`);
      await until(() => to.doc.getText('t').toString() === expect, 'the calm room syncs during the flood', 60000);
      times.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    const floodMs = Date.now() - floodStart;
    const syncMs = Math.max(...times);
    times.sort((x, y) => x - y);

    await flooded;
    clearInterval(sampler);
    peak = Math.max(peak, rss(srv.child.pid));
    const sentFrames = outcomes.reduce((n, o) => n + o.sent, 0);
    console.log(`# calm room synced ${times.length} times during the ${floodMs} ms flood: median ${times[times.length >> 1]} ms, slowest ${syncMs} ms (bound ${CALM_BOUND_MS}); `+
      `flooders ${outcomes.filter((o) => o.end === 'closed').length} closed, ` +
      `${outcomes.filter((o) => o.end === 'sent').length} sent all, ${sentFrames} frames sent; RSS base ${base >> 20} MiB, peak ${peak >> 20} MiB, bound ${bound >> 20} MiB`);
    // The bound means something only if the flood happened: every flooder got in and sent.
    assert.equal(outcomes.length, CONNS, 'every flooder reported');
    assert.ok(outcomes.every((o) => o.opened && o.sent > 0), 'every flooder opened and sent frames');
    assert.ok(sentFrames >= CONNS * 4, `the flood sent ${sentFrames} frames (at least ${CONNS * 4} = 4 per flooder)`);
    assert.ok(syncMs < CALM_BOUND_MS, `the calm room took ${syncMs} ms to sync during the flood (bound ${CALM_BOUND_MS} ms)`);
    assert.ok(peak < bound, `server RSS peaked at ${peak >> 20} MiB, over the bound of ${bound >> 20} MiB`);
    assert.equal(srv.child.exitCode, null, 'the server is still up');
    // And the calm room still works after the flood.
    b.doc.getText('t').insert(0, '> ');
    const after = b.doc.getText('t').toString();
    await until(() => a.doc.getText('t').toString() === after, 'the calm room syncs after the flood', 60000);
  } finally {
    clearInterval(sampler);
    await worker?.terminate();
    a?.destroy();
    b?.destroy();
    await srv.stop();
  }
});

test('a reader too far behind is closed with 1013', { timeout: 120000 }, async () => {
  // Awareness states of a frame each: over sync_max_awareness_bytes' default (64 KiB), raised here
  // so the states are relayed and pile up for the reader that reads nothing.
  const srv = await startServer({ BLOBSYNC_MAX_QUEUED_BYTES_PER_CONNECTION: String(4 * QUEUED),
    BLOBSYNC_SYNC_MAX_AWARENESS_BYTES: String(2 * FRAME) });
  const url = `ws://127.0.0.1:${srv.port}/sync/hostile-slow-reader`;
  const open = async () => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => {});
    await new Promise((resolve) => ws.on('open', resolve));
    return ws;
  };
  let slow, sender;
  try {
    slow = await open();
    const closed = new Promise((resolve) => slow.on('close', (code) => resolve(code)));
    slow._socket.pause();  // reads nothing for now
    sender = await open();
    // 32 MiB of awareness for `slow`: more than the kernel's buffers and the
    // queue hold. (The sender reads its own echo, and keeps up, mostly.)
    const pad = JSON.stringify({ pad: 'x'.repeat(FRAME - 96) });
    for (let clock = 1; clock <= 128 && sender.readyState === WebSocket.OPEN; clock++) {
      sender.send(awarenessFrame(4242, clock, pad));
      while (sender.bufferedAmount > 4 * FRAME && sender.readyState === WebSocket.OPEN)
        await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 500));
    slow._socket.resume();  // now read: what was buffered, then the close frame
    const code = await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 30000))]);
    assert.equal(code, 1013, 'the slow reader was closed with 1013 (try again later)');
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    slow?.terminate();
    sender?.terminate();
    await srv.stop();
  }
});
