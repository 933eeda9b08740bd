// Integration tests: the real binary on a loopback port, driven over HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, xrpc, createAccount, rawRequest, statusOf, bodyOf, storedBlobFiles, tempFiles, runGc,
  pngBytes, jpegBytes, mp4Bytes, elfBytes, cidOfBytes, SECRET, sql,
} from './server.mjs';

const LIMIT = 1024 * 1024;  // 1 MiB upload limit for these tests
let srv;
before(async () => {
  srv = await startServer({ BLOBSYNC_MAX_UPLOAD_BYTES: String(LIMIT), BLOBSYNC_BODY_TIMEOUT: '2s',
    BLOBSYNC_HEADER_TIMEOUT: '2s', BLOBSYNC_MAX_HEADER_BYTES: '8192' });
});
after(async () => { assert.equal(await srv.stop(), 0, 'server exits 0 on SIGTERM'); });

const upload = (token, bytes, type = 'application/octet-stream', headers = {}) =>
  xrpc(srv.base, 'POST', 'com.atproto.repo.uploadBlob',
    { token, body: bytes, headers: type ? { 'content-type': type, ...headers } : headers });

function blobRecord(blob, text = 'hi') {
  return {
    $type: 'app.bsky.feed.post', text, createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: blob }] },
  };
}

function b64url(s) { return Buffer.from(s).toString('base64url'); }
function signJwt(payload, secret = SECRET, typ = 'at+jwt') {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

test('healthz, describeServer and metrics', async () => {
  const h = await fetch(`${srv.base}/healthz`);
  assert.equal(h.status, 200);
  const d = await xrpc(srv.base, 'GET', 'com.atproto.server.describeServer');
  assert.equal(d.json.blobUploadLimit, LIMIT);
  assert.match(d.json.did, /^did:web:/);
  const m = await (await fetch(`${srv.base}/metrics`)).text();
  assert.match(m, /blobsync_http_requests_total\{route="healthz",status="200"\} \d+/);
  assert.match(m, /blobsync_upload_duration_seconds_bucket\{le="\+Inf"\}/);
  assert.match(m, /blobsync_blobs_stored \d+/);
  assert.match(m, /blobsync_http_sent_bytes_total \d+/);
});

test('accounts and sessions', async () => {
  const a = await createAccount(srv.base, 'sess');
  assert.match(a.did, /^did:plc:[a-z2-7]{24}$/);
  const dup = await xrpc(srv.base, 'POST', 'com.atproto.server.createAccount',
    { body: { handle: a.handle, email: 'other@example.com', password: 'x' } });
  assert.equal(dup.status, 400);
  assert.equal(dup.json.error, 'HandleNotAvailable');
  const badHandle = await xrpc(srv.base, 'POST', 'com.atproto.server.createAccount',
    { body: { handle: '../etc', email: 'h@example.com', password: 'x' } });
  assert.equal(badHandle.json.error, 'InvalidHandle');
  const wrong = await xrpc(srv.base, 'POST', 'com.atproto.server.createSession',
    { body: { identifier: a.handle, password: 'nope' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error, 'AuthenticationRequired');
  const s = await xrpc(srv.base, 'POST', 'com.atproto.server.createSession',
    { body: { identifier: a.handle, password: 'hunter2' } });
  assert.equal(s.status, 200);
  assert.equal(s.json.did, a.did);
  const g = await xrpc(srv.base, 'GET', 'com.atproto.server.getSession', { token: s.json.accessJwt });
  assert.equal(g.json.handle, a.handle);
  // A refresh token is not an access token.
  const wrongScope = await xrpc(srv.base, 'GET', 'com.atproto.server.getSession', { token: s.json.refreshJwt });
  assert.equal(wrongScope.status, 401);
  assert.equal(wrongScope.json.error, 'InvalidToken');
  const r = await xrpc(srv.base, 'POST', 'com.atproto.server.refreshSession', { token: s.json.refreshJwt });
  assert.equal(r.status, 200);
  // Rotation: the old refresh token is spent.
  const again = await xrpc(srv.base, 'POST', 'com.atproto.server.refreshSession', { token: s.json.refreshJwt });
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'ExpiredToken');
  const del = await xrpc(srv.base, 'POST', 'com.atproto.server.deleteSession', { token: r.json.refreshJwt });
  assert.equal(del.status, 200);
  const afterDel = await xrpc(srv.base, 'POST', 'com.atproto.server.refreshSession', { token: r.json.refreshJwt });
  assert.equal(afterDel.status, 400);
});

test('auth failures: no token, forged, expired, wrong scheme', async () => {
  const a = await createAccount(srv.base, 'auth');
  const before = storedBlobFiles(srv.dir).length;
  const none = await upload(undefined, pngBytes(), 'image/png');
  assert.equal(none.status, 401);
  assert.equal(none.json.error, 'AuthenticationRequired');
  const now = Math.floor(Date.now() / 1000);
  const claims = { scope: 'com.atproto.access', sub: a.did, aud: 'did:web:localhost', iat: now - 100, exp: now + 100 };
  const forged = await upload(signJwt(claims, 'not-the-secret-at-all-0000000000'), pngBytes(), 'image/png');
  assert.equal(forged.status, 401);
  assert.equal(forged.json.error, 'InvalidToken');
  const expired = await upload(signJwt({ ...claims, exp: now - 10 }), pngBytes(), 'image/png');
  assert.equal(expired.status, 401);
  assert.equal(expired.json.error, 'ExpiredToken');
  const algNone = `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims))}.`;
  assert.equal((await upload(algNone, pngBytes(), 'image/png')).status, 401);
  const garbage = await upload('garbage', pngBytes(), 'image/png');
  assert.equal(garbage.json.error, 'InvalidToken');
  const basic = await xrpc(srv.base, 'POST', 'com.atproto.repo.uploadBlob',
    { body: pngBytes(), headers: { 'content-type': 'image/png', authorization: 'Basic dTpw' } });
  assert.equal(basic.status, 401);
  // A valid token signed with the real secret works.
  const ok = await upload(signJwt(claims), pngBytes(), 'image/png');
  assert.equal(ok.status, 200);
  assert.equal(storedBlobFiles(srv.dir).length, before + 1);
});

test('upload returns the real CIDv1 and the sniffed type', async () => {
  const a = await createAccount(srv.base, 'up');
  const png = pngBytes();
  const r = await upload(a.accessJwt, png, 'image/png');
  assert.equal(r.status, 200);
  assert.equal(r.json.blob.$type, 'blob');
  assert.equal(r.json.blob.mimeType, 'image/png');
  assert.equal(r.json.blob.size, png.length);
  assert.match(r.json.blob.ref.$link, /^bafkrei[a-z2-7]{52}$/);
  const empty = await upload(a.accessJwt, new Uint8Array(0), 'application/octet-stream');
  assert.equal(empty.status, 200);
  assert.equal(empty.json.blob.ref.$link, 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  // Content-Type parameters are dropped, declared jpg alias accepted.
  const j = await upload(a.accessJwt, jpegBytes(), 'image/jpg; charset=binary');
  assert.equal(j.json.blob.mimeType, 'image/jpeg');
  const unknown = await upload(a.accessJwt, crypto.randomBytes(5000), 'application/octet-stream');
  assert.equal(unknown.json.blob.mimeType, 'application/octet-stream');
});

test('MIME policy: spoofed, not allowed, missing Content-Type', async () => {
  const a = await createAccount(srv.base, 'mime');
  const before = storedBlobFiles(srv.dir).length;
  const spoof = await upload(a.accessJwt, elfBytes(), 'image/png');
  assert.equal(spoof.status, 400);
  assert.equal(spoof.json.error, 'InvalidMimeType');
  assert.match(spoof.json.message, /executable/);
  const pngAsMp4 = await upload(a.accessJwt, pngBytes(), 'video/mp4');
  assert.equal(pngAsMp4.json.error, 'InvalidMimeType');
  const exeHonest = await upload(a.accessJwt, elfBytes(), 'application/octet-stream');
  assert.equal(exeHonest.status, 415);
  assert.equal(exeHonest.json.error, 'UnsupportedMediaType');
  const html = await upload(a.accessJwt, Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>'),
    'text/html');
  assert.equal(html.status, 415);
  const notAllowedDeclared = await upload(a.accessJwt, crypto.randomBytes(100), 'application/x-msdownload');
  assert.equal(notAllowedDeclared.status, 415);
  const noType = await upload(a.accessJwt, pngBytes(), null);
  assert.equal(noType.status, 400);
  assert.equal(noType.json.error, 'InvalidRequest');
  assert.match(noType.json.message, /Content-Type/);
  assert.equal(storedBlobFiles(srv.dir).length, before, 'rejected uploads leave nothing');
  assert.deepEqual(tempFiles(srv.dir), []);
});

test('oversize by Content-Length and by chunked stream: 413, nothing stored', async () => {
  const a = await createAccount(srv.base, 'big');
  const before = storedBlobFiles(srv.dir).length;
  const head = [`POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.accessJwt}\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`];
  const byHeader = await rawRequest(srv.port, head);
  assert.equal(statusOf(byHeader), 413);
  assert.equal(JSON.parse(bodyOf(byHeader)).error, 'PayloadTooLarge');
  // Chunked, no length: the limit is enforced while streaming.
  const chunk = crypto.randomBytes(256 * 1024);
  const chunks = [`POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.accessJwt}\r\n` +
    'Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n'];
  for (let i = 0; i < 6; i++) chunks.push(`${chunk.length.toString(16)}\r\n`, chunk, '\r\n');
  chunks.push('0\r\n\r\n');
  const byStream = await rawRequest(srv.port, chunks);
  assert.equal(statusOf(byStream), 413);
  assert.equal(storedBlobFiles(srv.dir).length, before);
  assert.deepEqual(tempFiles(srv.dir), []);
  // Exactly the limit is fine, chunked too.
  const okChunks = chunks.slice(0, 1);
  const exact = crypto.randomBytes(LIMIT);
  okChunks.push(`${exact.length.toString(16)}\r\n`, exact, '\r\n0\r\n\r\n');
  const ok = await rawRequest(srv.port, okChunks, { waitMs: 1000 });
  assert.equal(statusOf(ok), 200);
  assert.equal(storedBlobFiles(srv.dir).length, before + 1);
});

test('body shorter or longer than Content-Length is rejected', async () => {
  const a = await createAccount(srv.base, 'cl');
  const before = storedBlobFiles(srv.dir).length;
  const hdr = (n) => `POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.accessJwt}\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${n}\r\n\r\n`;
  const shortHalfClosed = await rawRequest(srv.port, [hdr(1000), crypto.randomBytes(500)], { halfClose: true });
  assert.equal(statusOf(shortHalfClosed), 400);
  assert.match(bodyOf(shortHalfClosed), /shorter than its Content-Length/);
  const shortStalled = await rawRequest(srv.port, [hdr(1000), crypto.randomBytes(500)], { waitMs: 5000 });
  assert.equal(statusOf(shortStalled), 400);
  const longer = await rawRequest(srv.port, [hdr(100), Buffer.concat([crypto.randomBytes(100), Buffer.alloc(50, 0xee)])]);
  assert.equal(statusOf(longer), 400);
  assert.match(bodyOf(longer), /longer than its Content-Length/);
  assert.equal(storedBlobFiles(srv.dir).length, before);
  assert.deepEqual(tempFiles(srv.dir), []);
});

test('records reference blobs; only referenced blobs are served and listed', async () => {
  const a = await createAccount(srv.base, 'rec');
  const png = pngBytes();
  const up = await upload(a.accessJwt, png, 'image/png');
  const blob = up.json.blob;
  const cid = blob.ref.$link;
  // Temporary: not served, not listed.
  const early = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob', { query: { did: a.did, cid } });
  assert.equal(early.status, 400);
  assert.equal(early.json.error, 'BlobNotFound');
  const hex = cidOfBytes(png).hex;
  assert.equal((await fetch(`${srv.base}/blobs/${hex}`)).status, 404);
  let list = await xrpc(srv.base, 'GET', 'com.atproto.sync.listBlobs', { query: { did: a.did } });
  assert.deepEqual(list.json.cids, []);
  // Reference checks.
  const wrongMime = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', record: blobRecord({ ...blob, mimeType: 'image/jpeg' }) } });
  assert.equal(wrongMime.json.error, 'InvalidMimeType');
  const wrongSize = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', record: blobRecord({ ...blob, size: 1 }) } });
  assert.equal(wrongSize.json.error, 'InvalidSize');
  const missingCid = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyka';
  const missing = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', record: blobRecord({ ...blob, ref: { $link: 'bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm' } }) } });
  assert.equal(missing.json.error, 'BlobNotFound');
  const malformed = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', record: blobRecord({ ...blob, ref: { $link: missingCid } }) } });
  assert.equal(malformed.status, 400);
  const other = await createAccount(srv.base, 'other');
  const foreign = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: other.accessJwt, body: { repo: other.did, collection: 'app.bsky.feed.post', record: blobRecord(blob) } });
  assert.equal(foreign.json.error, 'BlobNotFound', 'another account cannot reference a blob it did not upload');
  const notMine = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: other.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', record: { text: 'x' } } });
  assert.equal(notMine.status, 403);
  // A good reference makes it permanent and served.
  const created = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', record: blobRecord(blob) } });
  assert.equal(created.status, 200, JSON.stringify(created.json));
  assert.match(created.json.uri, new RegExp(`^at://${a.did}/app.bsky.feed.post/[2-7a-z]{13}$`));
  const got = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob', { query: { did: a.did, cid } });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, png);
  assert.equal(got.headers.get('content-type'), 'image/png');
  assert.equal(got.headers.get('content-length'), String(png.length));
  assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(got.headers.get('content-security-policy'), "default-src 'none'; sandbox");
  assert.equal(got.headers.get('content-disposition'), `attachment; filename="${cid}"`);
  assert.equal(got.headers.get('etag'), `"${cid}"`);
  assert.match(got.headers.get('cache-control'), /immutable/);
  assert.equal(got.headers.get('accept-ranges'), 'bytes');
  const plain = await fetch(`${srv.base}/blobs/${hex}`);
  assert.equal(plain.status, 200);
  assert.equal((await fetch(`${srv.base}/blobs/${cid}`)).status, 200);
  list = await xrpc(srv.base, 'GET', 'com.atproto.sync.listBlobs', { query: { did: a.did } });
  assert.deepEqual(list.json.cids, [cid]);
  assert.equal(list.json.cursor, cid);
  const rec = await xrpc(srv.base, 'GET', 'com.atproto.repo.getRecord',
    { query: { repo: a.did, collection: 'app.bsky.feed.post', rkey: created.json.uri.split('/').pop() } });
  assert.equal(rec.json.value.embed.images[0].image.ref.$link, cid);
  const recs = await xrpc(srv.base, 'GET', 'com.atproto.repo.listRecords', { query: { repo: a.handle, collection: 'app.bsky.feed.post' } });
  assert.equal(recs.json.records.length, 1);
  const missingList = await xrpc(srv.base, 'GET', 'com.atproto.repo.listMissingBlobs', { token: a.accessJwt });
  assert.deepEqual(missingList.json.blobs, []);
  // putRecord replacing the blob ref drops it.
  const rkey = created.json.uri.split('/').pop();
  const put = await xrpc(srv.base, 'POST', 'com.atproto.repo.putRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', rkey, record: { text: 'no image', createdAt: new Date().toISOString() } } });
  assert.equal(put.status, 200);
  const gone = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob', { query: { did: a.did, cid } });
  assert.equal(gone.json.error, 'BlobNotFound');
});

test('Range requests and HEAD', async () => {
  const a = await createAccount(srv.base, 'range');
  const bytes = crypto.randomBytes(1000);
  const up = await upload(a.accessJwt, bytes);
  await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    // Random bytes in an image slot: validate false skips the lexicon's accept, as on the reference PDS.
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', validate: false, record: blobRecord(up.json.blob) } });
  const url = `${srv.base}/xrpc/com.atproto.sync.getBlob?did=${a.did}&cid=${up.json.blob.ref.$link}`;
  const get = async (range) => {
    const r = await fetch(url, { headers: range ? { range } : {} });
    return { status: r.status, cr: r.headers.get('content-range'), body: Buffer.from(await r.arrayBuffer()) };
  };
  let r = await get('bytes=0-0');
  assert.equal(r.status, 206); assert.equal(r.cr, 'bytes 0-0/1000'); assert.deepEqual(r.body, bytes.subarray(0, 1));
  r = await get('bytes=990-');
  assert.equal(r.status, 206); assert.deepEqual(r.body, bytes.subarray(990));
  r = await get('bytes=-10');
  assert.equal(r.status, 206); assert.equal(r.cr, 'bytes 990-999/1000'); assert.deepEqual(r.body, bytes.subarray(990));
  r = await get('bytes=500-5000');
  assert.equal(r.status, 206); assert.equal(r.cr, 'bytes 500-999/1000'); assert.equal(r.body.length, 500);
  r = await get('bytes=1000-');
  assert.equal(r.status, 416); assert.equal(r.cr, 'bytes */1000');
  r = await get('bytes=-0');
  assert.equal(r.status, 416);
  r = await get('bytes=5-2');
  assert.equal(r.status, 200); assert.equal(r.body.length, 1000);
  r = await get('bytes=0-1,5-6');
  assert.equal(r.status, 200);
  r = await get('items=0-1');
  assert.equal(r.status, 200);
  const head = await fetch(url, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '1000');
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const cond = await fetch(url, { headers: { 'if-none-match': `"${up.json.blob.ref.$link}"` } });
  assert.equal(cond.status, 304);
});

test('malformed CIDs, path traversal, invalid JSON, huge headers, bad methods', async () => {
  const a = await createAccount(srv.base, 'bad');
  for (const cid of ['', 'bafy', 'Qmfoo', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk!', 'b' + 'a'.repeat(5000),
    'bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku']) {
    const r = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob', { query: { did: a.did, cid } });
    assert.equal(r.status, 400, cid);
    assert.ok(['InvalidRequest', 'BlobNotFound'].includes(r.json.error), cid);
  }
  const unknown = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob',
    { query: { did: a.did, cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' } });
  assert.equal(unknown.json.error, 'BlobNotFound');
  const noRepo = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob',
    { query: { did: 'did:plc:nobody', cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku' } });
  assert.equal(noRepo.json.error, 'RepoNotFound');
  for (const p of ['/blobs/../../etc/passwd', '/blobs/..%2f..%2fetc%2fpasswd', '/blobs/%2e%2e/meta.db',
    '/blobs/', '/blobs/ZZZZ', '/blobs/tmp', '/blobs/' + 'a'.repeat(63), '/blobs/jwt.secret']) {
    const raw = await rawRequest(srv.port, [`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { waitMs: 1000 });
    const st = statusOf(raw);
    assert.ok(st === 400 || st === 404, `${p} -> ${st}`);
    assert.ok(!raw.includes('secret') || raw.includes('error'), p);
  }
  const badJson = await xrpc(srv.base, 'POST', 'com.atproto.server.createSession',
    { body: '{"identifier": "x", ', headers: { 'content-type': 'application/json' } });
  assert.equal(badJson.status, 400);
  assert.equal(badJson.json.error, 'InvalidRequest');
  const notObject = await xrpc(srv.base, 'POST', 'com.atproto.server.createSession',
    { body: '[1,2]', headers: { 'content-type': 'application/json' } });
  assert.equal(notObject.status, 400);
  const wrongType = await xrpc(srv.base, 'POST', 'com.atproto.server.createSession',
    { body: '{}', headers: { 'content-type': 'text/plain' } });
  assert.equal(wrongType.status, 400);
  const deep = await xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: a.accessJwt, body: '{"repo":"x","record":' + '['.repeat(10000) + ']'.repeat(10000) + '}', headers: { 'content-type': 'application/json' } });
  assert.equal(deep.status, 400);
  const huge = await rawRequest(srv.port, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`]);
  assert.equal(statusOf(huge), 431);
  const garbageLine = await rawRequest(srv.port, ['\x16\x03\x01 hello\r\n\r\n']);
  assert.equal(statusOf(garbageLine), 400);
  const wrongMethod = await xrpc(srv.base, 'GET', 'com.atproto.repo.uploadBlob');
  assert.equal(wrongMethod.status, 400);
  const unknownMethod = await xrpc(srv.base, 'GET', 'com.example.nothing');
  assert.equal(unknownMethod.status, 501);
  const badLimit = await xrpc(srv.base, 'GET', 'com.atproto.sync.listBlobs', { query: { did: a.did, limit: '0' } });
  assert.equal(badLimit.status, 400);
  const badLimit2 = await xrpc(srv.base, 'GET', 'com.atproto.sync.listBlobs', { query: { did: a.did, limit: '1001' } });
  assert.equal(badLimit2.status, 400);
  // The server is still fine.
  assert.equal((await fetch(`${srv.base}/healthz`)).status, 200);
});

test('slowloris: a trickling request head is cut off', async () => {
  const net = await import('node:net');
  const closed = await new Promise((resolve) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let data = '';
    let i = 0;
    const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\n';
    const t = setInterval(() => { if (!sock.destroyed) sock.write(line[i++ % line.length]); }, 200);
    sock.on('data', (d) => { data += d; });
    sock.on('close', () => { clearInterval(t); resolve({ closed: true, data }); });
    setTimeout(() => { clearInterval(t); sock.destroy(); resolve({ closed: false, data }); }, 8000);
  });
  assert.equal(closed.closed, true, 'server closed the slow connection');
  assert.ok(!closed.data.includes('"status":"ok"'));
});

test('plain API: PUT /blobs/<hash>', async () => {
  const a = await createAccount(srv.base, 'plain');
  const bytes = crypto.randomBytes(3000);
  const { hex } = cidOfBytes(bytes);
  const before = storedBlobFiles(srv.dir).length;
  const noAuth = await fetch(`${srv.base}/blobs/${hex}`, { method: 'PUT', body: bytes });
  assert.equal(noAuth.status, 401);
  const wrong = await fetch(`${srv.base}/blobs/${hex}`,
    { method: 'PUT', body: crypto.randomBytes(3000), headers: { authorization: `Bearer ${a.accessJwt}` } });
  assert.equal(wrong.status, 400);
  assert.equal((await wrong.json()).error, 'HashMismatch');
  assert.equal(storedBlobFiles(srv.dir).length, before);
  assert.deepEqual(tempFiles(srv.dir), []);
  const ok = await fetch(`${srv.base}/blobs/${hex}`,
    { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${a.accessJwt}` } });
  assert.equal(ok.status, 201);
  const got = await fetch(`${srv.base}/blobs/sha256:${hex}`);
  assert.equal(got.status, 200);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
  assert.equal(got.headers.get('etag'), `"${hex}"`);
  const r = await fetch(`${srv.base}/blobs/${hex}`, { headers: { range: 'bytes=10-19' } });
  assert.equal(r.status, 206);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), bytes.subarray(10, 20));
  const badHash = await fetch(`${srv.base}/blobs/nothex`,
    { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${a.accessJwt}` } });
  assert.equal(badHash.status, 400);
});

test('gc: unreferenced uploads go, shared blobs survive one account', async () => {
  const a = await createAccount(srv.base, 'gca');
  const b = await createAccount(srv.base, 'gcb');
  const shared = mp4Bytes();
  const ua = await upload(a.accessJwt, shared, 'video/mp4');
  const ub = await upload(b.accessJwt, shared, 'video/mp4');
  assert.equal(ua.json.blob.ref.$link, ub.json.blob.ref.$link);
  const lonelyBytes = crypto.randomBytes(777);
  const lonely = await upload(a.accessJwt, lonelyBytes);
  assert.equal(lonely.status, 200);
  const cid = ua.json.blob.ref.$link;
  const post = (acc, blob) => xrpc(srv.base, 'POST', 'com.atproto.repo.createRecord',
    { token: acc.accessJwt, body: { repo: acc.did, collection: 'app.bsky.feed.post', record: { text: 'v', createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.video', video: blob } } } });
  const pa = await post(a, ua.json.blob);
  const pb = await post(b, ub.json.blob);
  assert.equal(pa.status, 200); assert.equal(pb.status, 200);
  // The grace period protects fresh uploads.
  const graced = runGc(srv.dir, '6h');
  assert.equal(graced.blobsDeleted, 0);
  const filesBefore = storedBlobFiles(srv.dir);
  const del = await xrpc(srv.base, 'POST', 'com.atproto.repo.deleteRecord',
    { token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', rkey: pa.json.uri.split('/').pop() } });
  assert.equal(del.status, 200);
  const report = runGc(srv.dir, '0');
  assert.ok(report.blobsDeleted >= 1, JSON.stringify(report));  // the lonely upload
  const stillB = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob', { query: { did: b.did, cid } });
  assert.equal(stillB.status, 200, 'shared blob survives deletion of one account\'s reference');
  const notA = await xrpc(srv.base, 'GET', 'com.atproto.sync.getBlob', { query: { did: a.did, cid } });
  assert.equal(notA.json.error, 'BlobNotFound');
  const lonelyHex = cidOfBytes(lonelyBytes).hex;
  assert.ok(!storedBlobFiles(srv.dir).includes(lonelyHex), 'unreferenced upload collected');
  assert.ok(filesBefore.includes(lonelyHex));
  await xrpc(srv.base, 'POST', 'com.atproto.repo.deleteRecord',
    { token: b.accessJwt, body: { repo: b.did, collection: 'app.bsky.feed.post', rkey: pb.json.uri.split('/').pop() } });
  const report2 = runGc(srv.dir, '0');
  assert.ok(report2.blobsDeleted >= 1);
  const sharedHex = cidOfBytes(shared).hex;
  assert.ok(!storedBlobFiles(srv.dir).includes(sharedHex), 'last reference gone -> deleted');
  assert.ok(filesBefore.includes(sharedHex));
});

test('metrics: blobs stored and bytes follow uploads, duplicates and GC in another process', async () => {
  // A server of its own, so the counts are exactly this test's.
  const own = await startServer();
  try {
    const metric = async (name) => {
      const m = (await (await fetch(`${own.base}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)$`, 'm'));
      assert.ok(m, `${name} in /metrics`);
      return Number(m[1]);
    };
    // What the metrics must equal: a scan of the blob table.
    const scanned = () => sql(own.metadata, own.dir, 'SELECT count(*), coalesce(sum(size), 0) FROM blobs')[0].map(Number);
    const expectStored = async (count, bytes) => {
      assert.equal(await metric('blobsync_blobs_stored'), count);
      assert.equal(await metric('blobsync_blob_bytes_stored'), bytes);
      assert.deepEqual(scanned(), [count, bytes]);
    };
    await expectStored(0, 0);
    const a = await createAccount(own.base, 'metrics');
    const up = (bytes) => xrpc(own.base, 'POST', 'com.atproto.repo.uploadBlob',
      { token: a.accessJwt, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    const kept = crypto.randomBytes(100), b1 = crypto.randomBytes(2000), b2 = crypto.randomBytes(300 * 1024);
    const uk = await up(kept);
    assert.equal(uk.status, 200);
    assert.equal((await up(b1)).status, 200);
    assert.equal((await up(b2)).status, 200);
    await expectStored(3, 100 + 2000 + 300 * 1024);
    assert.equal((await up(b1)).status, 200);  // a duplicate adds nothing
    await expectStored(3, 100 + 2000 + 300 * 1024);
    const post = await xrpc(own.base, 'POST', 'com.atproto.repo.createRecord', {
      token: a.accessJwt, body: { repo: a.did, collection: 'app.bsky.feed.post', validate: false, record: blobRecord(uk.json.blob) } });
    assert.equal(post.status, 200);
    // `blobsync gc` is another process on the same database: the server's
    // next scrape still shows what it deleted.
    const report = runGc(own.dir, '0');
    assert.equal(report.blobsDeleted, 2, JSON.stringify(report));
    await expectStored(1, 100);
    assert.equal((await up(b2)).status, 200);  // back after deletion
    await expectStored(2, 100 + 300 * 1024);
  } finally {
    assert.equal(await own.stop(), 0);
  }
});
