// Hostile (issue 18): storage quotas on every write path (docs/security.md,
// "Quotas"), against the real binary with small quotas. An account
// (account_quota) fills up through uploadBlob (declared length, and a
// chunked body that declares none), PUT /blobs and a record; a room token
// (room_token_quota, or its `quota` claim) through blob-channel UPLOADs (the
// Node client and the C++ CLI) and document updates. Each refusal is a
// clear error naming the quota, and nothing is half-stored: no claim or
// listBlobs entry, the blob not readable, no staging or temp file, no
// registry entry, the store's blob count unchanged. A token's usage survives
// a restart; another `sub` still writes; a deleted record frees the account.
// (Before: no quota at all, every upload went through.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, createAccount, xrpc, Y, encoding, client, WebSocket } from './hostile.mjs';
import { decoding } from '../interop/sync/harness.mjs';
import { BIN, sql, storedBlobFiles, tempFiles, rawRequest, statusOf, bodyOf } from '../http/server.mjs';
import { BlobClient, generatedBlob, memoryBlob, hashRef } from '../interop/sync/blobclient.mjs';

const MiB = 1 << 20;
const SECRET = 'quota-test-room-secret-0123456789abcdef';

function roomToken(claims, ttl = 3600) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'HS256', typ: 'blobsync-room+jwt' })}.` +
    b64({ aud: 'blobsync:room', rooms: ['*'], scope: 'write', iat, exp: iat + ttl, ...claims });
  return `${input}.${crypto.createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

async function blobCount(srv) {
  const text = await (await fetch(`${srv.base}/metrics`)).text();
  return Number(text.match(/^blobsync_blobs_stored (\d+)/m)[1]);
}

const upload = (srv, token, bytes) => xrpc(srv.base, 'POST', 'com.atproto.repo.uploadBlob',
  { token, body: bytes, headers: { 'content-type': 'application/octet-stream' } });

function claims(srv, did) {
  return sql(srv.metadata, srv.dir, `SELECT hash FROM account_blob WHERE did = '${did}'`).map((r) => r[0]);
}

function quotaRefusal(r) {
  assert.equal(r.status, 413, JSON.stringify(r.json));
  assert.equal(r.json.error, 'QuotaExceeded');
  assert.match(r.json.message, /uses \d+ of 1048576 bytes \(account_quota\)/);
}

test('account_quota on uploadBlob, chunked uploads, PUT /blobs and records; freed by a delete', async () => {
  const srv = await startServer({ BLOBSYNC_ACCOUNT_QUOTA: '1MiB' });
  try {
    const a = await createAccount(srv.base, 'quota');
    const first = crypto.randomBytes(600_000);
    const ok = await upload(srv, a.accessJwt, first);
    assert.equal(ok.status, 200);
    const firstHex = crypto.createHash('sha256').update(first).digest('hex');
    const again = await fetch(`${srv.base}/blobs/${firstHex}`, { method: 'PUT', body: first,
      headers: { authorization: `Bearer ${a.accessJwt}`, 'content-type': 'application/octet-stream' } });
    assert.equal(again.status, 201, 'a blob the account has costs nothing again');
    const stored = await blobCount(srv);
    const files = storedBlobFiles(srv.dir).length;

    // Declared length past the quota: refused before the body is read.
    const second = crypto.randomBytes(600_000);
    quotaRefusal(await upload(srv, a.accessJwt, second));
    // No length (chunked): refused while streaming, once past the quota.
    const piece = crypto.randomBytes(100_000);
    const chunks = [`POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.accessJwt}\r\n` +
      'Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n'];
    for (let i = 0; i < 6; i++) chunks.push(`${piece.length.toString(16)}\r\n`, piece, '\r\n');
    chunks.push('0\r\n\r\n');
    const raw = await rawRequest(srv.port, chunks);
    assert.equal(statusOf(raw), 413, raw.slice(0, 300));
    assert.equal(JSON.parse(bodyOf(raw)).error, 'QuotaExceeded');
    // PUT /blobs with the account's session.
    const secondHex = crypto.createHash('sha256').update(second).digest('hex');
    const put = await fetch(`${srv.base}/blobs/${secondHex}`, { method: 'PUT', body: second,
      headers: { authorization: `Bearer ${a.accessJwt}`, 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 413);
    assert.equal((await put.json()).error, 'QuotaExceeded');
    // A record past the quota.
    const big = { $type: 'app.test.note', text: 'x'.repeat(500_000) };
    quotaRefusal(await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
      { token: a.accessJwt, body: { repo: a.did, collection: 'app.test.note', record: big } }));

    // Nothing half-stored.
    assert.deepEqual(claims(srv, a.did), [firstHex]);
    assert.equal(await blobCount(srv), stored);
    assert.equal(storedBlobFiles(srv.dir).length, files);
    assert.deepEqual(tempFiles(srv.dir), []);
    assert.equal((await fetch(`${srv.base}/blobs/${secondHex}`)).status, 404);
    const listed = await xrpc(srv.base, 'GET', 'com.atproto.sync.listBlobs', { query: { did: a.did } });
    assert.deepEqual(listed.json.cids, []);
    assert.equal((await xrpc(srv.base, 'GET', 'com.atproto.repo.listRecords',
      { query: { repo: a.did, collection: 'app.test.note' } })).json.records.length, 0);

    // Two parallel uploads that fit one at a time: one goes through.
    const a2 = await createAccount(srv.base, 'quota-par');
    const both = await Promise.all([upload(srv, a2.accessJwt, crypto.randomBytes(600_000)),
      upload(srv, a2.accessJwt, crypto.randomBytes(600_000))]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 413], 'both passed the check together');
    assert.equal(claims(srv, a2.did).length, 1);

    // A record within the quota, then deleted: the bytes come back.
    const rec = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord', { token: a.accessJwt,
      body: { repo: a.did, collection: 'app.test.note', rkey: 'r1', record: { text: 'y'.repeat(400_000) } } });
    assert.equal(rec.status, 200, JSON.stringify(rec.json));
    quotaRefusal(await upload(srv, a.accessJwt, crypto.randomBytes(100_000)));
    const del = await xrpc(srv.base, 'POST', 'com.atproto.repo.deleteRecord',
      { token: a.accessJwt, body: { repo: a.did, collection: 'app.test.note', rkey: 'r1' } });
    assert.equal(del.status, 200);
    assert.equal((await upload(srv, a.accessJwt, crypto.randomBytes(100_000))).status, 200,
      'the deleted record freed its bytes');
  } finally {
    await srv.stop();
  }
});

function syncUpdate(update) {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, 2);
  encoding.writeVarUint8Array(e, update);
  return encoding.toUint8Array(e);
}

// Opens a room with a token, sends one document update, resolves with the
// permission-denied text the server answered ('' if none within `ms`).
async function sendUpdate(url, room, token, text, ms = 2000) {
  const ws = new WebSocket(`${url}/${room}?token=${token}`);
  ws.binaryType = 'nodebuffer';
  let denied = '';
  ws.on('message', (data) => {
    const d = decoding.createDecoder(new Uint8Array(data));
    if (decoding.readVarUint(d) === 2 && decoding.readVarUint(d) === 0) denied = decoding.readVarString(d);  // [2, 0, text]
  });
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  const d = new Y.Doc();
  d.getText('t').insert(0, text);
  ws.send(syncUpdate(Y.encodeStateAsUpdate(d)));
  const start = Date.now();
  while (!denied && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 50));
  ws.close();
  return denied;
}

test('room_token_quota on blob-channel uploads and document updates; persisted; per sub', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-quota-'));
  const env = { BLOBSYNC_ROOM_TOKEN_SECRET: SECRET, BLOBSYNC_ROOM_TOKEN_QUOTA: '1MiB' };
  let srv = await startServer(env, [], { dir });
  const clients = [];
  try {
    const url = `ws://127.0.0.1:${srv.port}/sync`;
    const token = roomToken({});
    const bc = await BlobClient.connect(url, 'quota-room', { query: `?token=${token}` });
    clients.push(bc);
    const first = generatedBlob(600_000, 1);
    assert.ok((await bc.upload(first)).done);
    const stored = await blobCount(srv);
    const second = generatedBlob(600_000, 2);
    await assert.rejects(bc.upload(second),
      (e) => e.code === 'QUOTA_EXCEEDED' && /added 600000 of the 1048576 bytes/.test(e.message));
    assert.ok((await bc.upload(first)).done, 'a blob the server holds costs nothing, even at the quota');
    // The C++ client says why.
    const file = path.join(dir, 'upload.bin');
    fs.writeFileSync(file, crypto.randomBytes(600_000));
    const cli = spawnSync(BIN, ['--data', path.join(dir, 'cli'), 'put', file, '--server', url, '--room', 'quota-room',
      '--token', token], { encoding: 'utf8' });
    assert.notEqual(cli.status, 0);
    assert.match(cli.stderr, /QUOTA_EXCEEDED/);
    // Nothing of the refused uploads is anywhere.
    assert.equal(await blobCount(srv), stored);
    assert.equal((await fetch(`${srv.base}/blobs/${Buffer.from(second.hash).toString('hex')}`)).status, 404);
    const staging = path.join(dir, 'sync-staging');
    assert.deepEqual(fs.existsSync(staging) ? fs.readdirSync(staging).filter((f) => !f.endsWith('.lock')) : [], []);
    const reader = client(url, 'quota-room', { params: { token: roomToken({ sub: 'reader' }) } });
    await reader.synced;
    const registry = reader.doc.getMap('_blobRegistry');
    assert.deepEqual([...registry.keys()], [hashRef(first.hash)]);
    reader.destroy();

    // Document updates: a token with its own quota claim, shared by its sub.
    const small = roomToken({ sub: 'writer', quota: 3000 });
    assert.equal(await sendUpdate(url, 'quota-doc', small, 'a'.repeat(2000)), '', 'within the quota');
    const again = roomToken({ sub: 'writer', quota: 3000, iat: Math.floor(Date.now() / 1000) - 1 });
    const denied = await sendUpdate(url, 'quota-doc', again, 'b'.repeat(2000));
    assert.match(denied, /update refused: .*room_token_quota/);
    const check = client(url, 'quota-doc', { params: { token: roomToken({ sub: 'reader' }) } });
    await check.synced;
    assert.equal(check.doc.getText('t').toString(), 'a'.repeat(2000), 'the refused update was not applied');
    check.destroy();

    // A restart keeps what each key added.
    for (const c of clients.splice(0)) c.terminate();
    await srv.stop();
    srv = await startServer(env, [], { dir });
    const url2 = `ws://127.0.0.1:${srv.port}/sync`;
    const bc2 = await BlobClient.connect(url2, 'quota-room', { query: `?token=${token}` });
    clients.push(bc2);
    await assert.rejects(bc2.upload(generatedBlob(600_000, 3)), (e) => e.code === 'QUOTA_EXCEEDED');
    assert.match(await sendUpdate(url2, 'quota-doc', small, 'c'.repeat(2000)), /room_token_quota/);
    // Another sub has its own quota.
    assert.equal(await sendUpdate(url2, 'quota-doc', roomToken({ sub: 'someone-else', quota: 3000 }), 'd'.repeat(2000)), '');
    const other = await BlobClient.connect(url2, 'quota-room', { query: `?token=${roomToken({ sub: 'another' })}` });
    clients.push(other);
    assert.ok((await other.upload(generatedBlob(600_000, 4))).done);
    const rows = sql('', dir, "SELECT key, bytes FROM token_usage WHERE key LIKE 'sub:%' ORDER BY key");
    assert.deepEqual(rows.find((r) => r[0] === 'sub:another'), ['sub:another', '600000']);
  } finally {
    for (const c of clients) c.terminate();
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('room_token_quota on PUT /blobs/<hash>?room=R: declared and chunked bodies; shared with the blob channel', async () => {
  const env = { BLOBSYNC_ROOM_TOKEN_SECRET: SECRET, BLOBSYNC_ROOM_TOKEN_QUOTA: '1MiB' };
  const srv = await startServer(env);
  const clients = [];
  try {
    const token = roomToken({ sub: 'http-writer' });
    const put = (bytes, { chunked = false, t = token } = {}) => {
      const hex = crypto.createHash('sha256').update(bytes).digest('hex');
      const body = chunked
        ? new ReadableStream({ start(c) { for (let i = 0; i < bytes.length; i += 65536) c.enqueue(bytes.subarray(i, i + 65536)); c.close(); } })
        : bytes;
      return fetch(`${srv.base}/blobs/${hex}?room=quota-put`, {
        method: 'PUT', body, duplex: 'half',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/octet-stream' },
      }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => ({})), hex }));
    };
    const first = crypto.randomBytes(600_000);
    const ok = await put(first);
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    const stored = await blobCount(srv);
    // Declared length past the quota: refused before the body.
    const second = crypto.randomBytes(600_000);
    const refused = await put(second);
    assert.equal(refused.status, 413, JSON.stringify(refused.json));
    assert.equal(refused.json.error, 'QuotaExceeded');
    assert.match(refused.json.message, /room token has added 600000 of the 1048576 bytes it may \(room_token_quota/);
    // No declared length: cut at the first byte past the quota.
    const chunked = await put(crypto.randomBytes(600_000), { chunked: true });
    assert.equal(chunked.status, 413, JSON.stringify(chunked.json));
    assert.match(chunked.json.message, /room_token_quota/);
    // A blob the server holds costs nothing, even at the quota.
    assert.equal((await put(first)).status, 201);
    // Nothing of the refused bodies anywhere; the registry lists only the first.
    assert.equal(await blobCount(srv), stored);
    for (const r of [refused, chunked]) assert.equal((await fetch(`${srv.base}/blobs/${r.hex}`)).status, 404);
    assert.deepEqual(tempFiles(srv.dir), []);
    const url = `ws://127.0.0.1:${srv.port}/sync`;
    const reader = client(url, 'quota-put', { params: { token: roomToken({ sub: 'reader' }) } });
    await reader.synced;
    assert.deepEqual([...reader.doc.getMap('_blobRegistry').keys()], [`sha256:${ok.hex}`]);
    reader.destroy();
    // The blob channel draws on the same quota for the same sub.
    const bc = await BlobClient.connect(url, 'quota-put', { query: `?token=${roomToken({ sub: 'http-writer' })}` });
    clients.push(bc);
    await assert.rejects(bc.upload(generatedBlob(600_000, 7)), (e) => e.code === 'QUOTA_EXCEEDED');
    // Another sub still writes over HTTP.
    assert.equal((await put(second, { t: roomToken({ sub: 'other-writer' }) })).status, 201);
  } finally {
    for (const c of clients) c.terminate();
    await srv.stop();
  }
});
