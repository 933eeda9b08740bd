// Hostile (issue 18): the document limits against the real binary, set small
// through BLOBSYNC_* variables. (a) A flood of out-of-order updates (structs
// of a client whose clock 0 never arrives) past sync_max_pending_structs or
// sync_max_pending_bytes: the sender gets permission-denied messages naming
// the limit, the server's RSS stays bounded and honest y-websocket clients of
// the same room still sync every edit. (b) A document grown to
// sync_max_doc_bytes: inserts refused, a delete taken, and the room reloads
// after a restart. (c) An awareness state past sync_max_awareness_bytes:
// refused, other clients' awareness still propagates. Bounds are generous
// liveness bounds, not timings. With a limit set to 0 (none) each test fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, Y, encoding, client, until, rss } from './hostile.mjs';
import { rawSocket, decoding } from '../interop/sync/harness.mjs';

const LIVENESS_MS = 20000;
const N = 20000;  // out-of-order updates of 8 KiB: 156 MiB, a few seconds on loopback
const EVIL = 0x7e71;  // the hostile client's Yjs client id

function syncUpdate(update) {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);  // sync
  encoding.writeVarUint(e, 2);  // update
  encoding.writeVarUint8Array(e, update);
  return encoding.toUint8Array(e);
}

function awarenessMessage(clientId, clock, state) {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, 1);
  encoding.writeVarUint(inner, clientId);
  encoding.writeVarUint(inner, clock);
  encoding.writeVarString(inner, JSON.stringify(state));
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);  // awareness
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
  return encoding.toUint8Array(e);
}

// The text of a y-protocols permission-denied message ([2, 0, reason]), else null.
function denial(msg) {
  const d = decoding.createDecoder(new Uint8Array(msg));
  if (decoding.readVarUint(d) !== 2 || decoding.readVarUint(d) !== 0) return null;
  return decoding.readVarString(d);
}
const denials = (sock) => sock.got.map(denial).filter((t) => t !== null);

// `n` updates from client EVIL, one map entry (one struct) of `pad` bytes
// each, all waiting for EVIL's clock 0, which is never sent.
function outOfOrderUpdates(n, pad) {
  const doc = new Y.Doc();
  doc.clientID = EVIL;
  const m = doc.getMap('evil');
  m.set('seed', 0);  // clock 0: dropped
  const out = [];
  const value = 'x'.repeat(pad);
  for (let i = 1; i <= n; i++) {
    const sv = Y.encodeStateVector(doc);
    m.set(`k${i}`, value);
    out.push(syncUpdate(Y.encodeStateAsUpdate(doc, sv)));
  }
  return out;
}

// Sends every message, waiting only for the socket's own buffer (pipelined);
// calls `every500` between them, for honest edits interleaved with the flood.
async function pump(sock, messages, every500) {
  for (const [i, m] of messages.entries()) {
    if (sock.ws.readyState !== 1) throw new Error('the server closed the hostile connection');
    if (i % 500 === 0) every500();
    sock.send(m);
    while (sock.ws.bufferedAmount > (1 << 20)) await new Promise((r) => setTimeout(r, 2));
  }
}

// Out-of-order flood against one limit; honest clients edit meanwhile.
async function flood(env, { n, pad, allowedPending, expect }) {
  const srv = await startServer(env);
  const url = `ws://127.0.0.1:${srv.port}/sync`;
  const room = 'hostile-pending';
  let a, b, c, evil, sampler, editor;
  try {
    a = client(url, room);
    b = client(url, room);
    await Promise.all([a.synced, b.synced]);
    const messages = outOfOrderUpdates(n, pad);
    const base = rss(srv.child.pid);
    let peak = base;
    sampler = setInterval(() => { peak = Math.max(peak, rss(srv.child.pid)); }, 50);
    evil = await rawSocket(url, room);
    // Honest edits during the flood.
    const edits = [];
    const sentAt = [];
    let seen = 0;
    let maxLagMs = 0;
    b.doc.getText('t').observe(() => {
      const text = b.doc.getText('t').toString();
      while (seen < edits.length && text.includes(edits[seen])) maxLagMs = Math.max(maxLagMs, Date.now() - sentAt[seen++]);
    });
    const edit = () => {
      const line = `edit ${edits.length};`;
      edits.push(line);
      sentAt.push(Date.now());
      a.doc.getText('t').insert(a.doc.getText('t').length, line);
    };
    editor = setInterval(edit, 100);  // and while the server answers the flood
    const t0 = Date.now();
    let timer;
    await Promise.race([pump(evil, messages, edit), new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the flood was not taken within 60 s')), 60000);
    })]).finally(() => clearTimeout(timer));
    // Every refused update is answered: wait for the answers, then stop editing.
    await until(() => denials(evil).length >= n - allowedPending, () =>
      `a denial for each of the ${n - allowedPending} updates past the limit (got ${denials(evil).length})`, 60000);
    clearInterval(editor);
    const floodMs = Date.now() - t0;
    const want = edits.join('');
    const t1 = Date.now();
    await until(() => b.doc.getText('t').toString() === want, 'an honest client of the room sees every honest edit',
      LIVENESS_MS);
    const lagMs = Date.now() - t1;
    assert.ok(maxLagMs < LIVENESS_MS, `an honest edit took ${maxLagMs} ms to reach the other client`);
    clearInterval(sampler);
    peak = Math.max(peak, rss(srv.child.pid));

    const texts = denials(evil);
    assert.equal(texts.length, n - allowedPending, 'one denial per update past the limit, none before');
    for (const t of texts) assert.match(t, expect);
    assert.match(texts[0], /sync_max_pending_structs, sync_max_pending_bytes/);
    // A new client syncs the room promptly (its sync step 2 carries what waits, within the bound).
    c = client(url, room);
    await until(() => c.provider.synced && c.doc.getText('t').toString() === want, 'a new client syncs the room',
      LIVENESS_MS);
    // Bounded: what waits, the bytes queued for one connection (16 MiB by
    // default), the flood's messages in flight, and slack for the allocator;
    // far below the flood itself.
    const total = messages.reduce((s, m) => s + m.length, 0);
    const bound = base + (64 << 20);
    console.log(`# ${n} updates (${total >> 20} MiB) in ${floodMs} ms, ${texts.length} denied, ${edits.length} ` +
      `honest edits (each seen within ${maxLagMs} ms; all ${lagMs} ms after the last); RSS base ${base >> 20} MiB, peak ${peak >> 20} MiB, ` +
      `bound ${bound >> 20} MiB`);
    assert.ok(total > 2 * (bound - base), 'the flood is larger than the memory it may cost');
    assert.ok(peak < bound, `server RSS peaked at ${peak >> 20} MiB, over the bound of ${bound >> 20} MiB`);
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    clearInterval(sampler);
    clearInterval(editor);
    evil?.ws.terminate();
    for (const x of [a, b, c]) x?.destroy();
    await srv.stop();
  }
}

test('out-of-order structs past sync_max_pending_structs', { timeout: 180000 }, async () => {
  await flood({ BLOBSYNC_SYNC_MAX_PENDING_STRUCTS: '256', BLOBSYNC_SYNC_MAX_PENDING_BYTES: '0' },
    { n: N, pad: 8192, allowedPending: 256, expect: /wait for missing updates, over the limit of 256 structs \/ 0 bytes/ });
});

test('out-of-order structs past sync_max_pending_bytes', { timeout: 180000 }, async () => {
  // 127 pending updates of 8 KiB and a few bytes (encoded) fit in 1 MiB.
  await flood({ BLOBSYNC_SYNC_MAX_PENDING_STRUCTS: '0', BLOBSYNC_SYNC_MAX_PENDING_BYTES: '1MiB' },
    { n: N, pad: 8192, allowedPending: 127, expect: /wait for missing updates, over the limit of 0 structs \/ 1048576 bytes/ });
});

test('a document at sync_max_doc_bytes: inserts refused, deletes taken, reloads after a restart', { timeout: 100000 }, async () => {
  const LIMIT = 64 << 10;
  const CHUNK = 4096;
  const env = { BLOBSYNC_SYNC_MAX_DOC_BYTES: String(LIMIT) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-doc-limits-'));  // kept across the restart
  let srv = await startServer(env, [], { dir });
  const room = 'hostile-full';
  let url = `ws://127.0.0.1:${srv.port}/sync`;
  let writer, watcher, fresh;
  try {
    watcher = client(url, room);
    await watcher.synced;
    // The writer: a local document whose updates go out on a raw socket, so
    // that every refusal is seen.
    writer = await rawSocket(url, room);
    const doc = new Y.Doc();
    doc.on('update', (u) => writer.send(syncUpdate(u)));
    const text = doc.getText('t');
    const seenBy = (c) => c.doc.getText('t').toString();
    let accepted = 0;
    let refusal = null;
    for (let i = 0; i < 4 * LIMIT / CHUNK && !refusal; i++) {
      const from = writer.got.length;
      text.insert(text.length, String.fromCharCode(97 + (i % 26)).repeat(CHUNK));
      await until(() => seenBy(watcher).length === text.length ||
        writer.got.slice(from).some((m) => denial(m) !== null), `chunk ${i}: taken or refused`, LIVENESS_MS);
      refusal = writer.got.slice(from).map(denial).find((t) => t !== null) ?? null;
      if (!refusal) accepted++;
    }
    console.log(`# ${accepted} chunks of ${CHUNK} taken, then: ${refusal}`);
    assert.ok(refusal, `no insert was refused in ${4 * LIMIT} bytes: is sync_max_doc_bytes (${LIMIT}) enforced?`);
    assert.match(refusal, /update refused: .* limit of 65536 bytes \(sync_max_doc_bytes\)/);
    assert.ok(accepted * CHUNK > LIMIT / 2 && accepted * CHUNK <= LIMIT, `${accepted} chunks taken under a ${LIMIT} byte limit`);
    const kept = accepted * CHUNK;
    // Refused whole: nothing of the refused insert reached anyone.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seenBy(watcher).length, kept, 'the refused insert was not applied');
    // A further insert elsewhere (not after the refused one) is refused too.
    let from = writer.got.length;
    text.insert(0, 'm'.repeat(CHUNK));
    const again = await writer.next((m) => denial(m) !== null, from, 'a second insert refused');
    assert.match(denial(again), /sync_max_doc_bytes/);
    // Deleting is how a full document shrinks: taken, and seen by the watcher.
    from = writer.got.length;
    text.delete(CHUNK, CHUNK);  // the first chunk the server holds (after the refused one)
    await until(() => seenBy(watcher).length === kept - CHUNK, 'the delete reached the other client', LIVENESS_MS);
    assert.equal(writer.got.slice(from).map(denial).filter((t) => t !== null).length, 0, 'the delete was not refused');
    const expected = seenBy(watcher);
    writer.ws.terminate();
    watcher.destroy();
    watcher = null;

    // The room reloads after a restart, and the limit still holds.
    await srv.stop();
    srv = await startServer(env, [], { dir });
    url = `ws://127.0.0.1:${srv.port}/sync`;
    fresh = client(url, room);
    await until(() => fresh.provider.synced && seenBy(fresh) === expected,
      () => `the room reloads after a restart (${seenBy(fresh).length} of ${expected.length} characters)`, LIVENESS_MS);
    const probe = await rawSocket(url, room);
    const pdoc = new Y.Doc();
    pdoc.on('update', (u) => probe.send(syncUpdate(u)));
    pdoc.getText('t').insert(0, 'y'.repeat(4 * CHUNK));
    const after = await probe.next((m) => denial(m) !== null, 0, 'a large insert refused after the restart');
    assert.match(denial(after), /sync_max_doc_bytes/);
    probe.ws.terminate();
    // And a small edit still goes through to an honest client.
    fresh.doc.getText('t').delete(0, 10);
    const other = client(url, room);
    await until(() => other.provider.synced && seenBy(other) === expected.slice(10), 'an honest delete after the restart',
      LIVENESS_MS);
    other.destroy();
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    writer?.ws.terminate();
    watcher?.destroy();
    fresh?.destroy();
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an awareness state past sync_max_awareness_bytes is refused; others still propagate', { timeout: 60000 }, async () => {
  const LIMIT = 4096;
  const srv = await startServer({ BLOBSYNC_SYNC_MAX_AWARENESS_BYTES: String(LIMIT) });
  const url = `ws://127.0.0.1:${srv.port}/sync`;
  const room = 'hostile-awareness';
  let a, b, evil;
  try {
    a = client(url, room);
    b = client(url, room);
    await Promise.all([a.synced, b.synced]);
    evil = await rawSocket(url, room);
    const big = { user: 'evil', pad: 'x'.repeat(4 * LIMIT) };
    for (let clock = 1; clock <= 20; clock++) {
      const from = evil.got.length;
      evil.send(awarenessMessage(EVIL, clock, big));
      const m = await evil.next((x) => denial(x) !== null, from, `awareness ${clock} refused`);
      assert.match(denial(m), new RegExp(`awareness state of client ${EVIL} is \\d+ bytes, over the limit of ${LIMIT} ` +
        '\\(sync_max_awareness_bytes\\)'));
      // Meanwhile an honest client's state still reaches the other.
      a.provider.awareness.setLocalStateField('n', clock);
      await until(() => b.provider.awareness.getStates().get(a.doc.clientID)?.n === clock,
        `honest awareness ${clock} propagates`, LIVENESS_MS);
    }
    assert.ok(!b.provider.awareness.getStates().has(EVIL), 'the oversized state reached no one');
    // The same client with a state under the limit is taken: only the state was refused.
    evil.send(awarenessMessage(EVIL, 21, { user: 'evil', pad: 'x'.repeat(LIMIT / 2) }));
    await until(() => b.provider.awareness.getStates().get(EVIL)?.user === 'evil', 'a state under the limit propagates',
      LIVENESS_MS);
    assert.equal(srv.child.exitCode, null, 'the server is still up');
  } finally {
    evil?.ws.terminate();
    a?.destroy();
    b?.destroy();
    await srv.stop();
  }
});
