// Browsers: Origin checks on HTTP and WebSocket upgrades, CORS (preflight and
// actual responses), against the real binary. docs/security.md, "Browsers".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startServer, createAccount, BIN, SECRET } from './server.mjs';

const APP = 'https://app.example';
const PEER = 'ws://127.0.0.1:9/sync';  // nothing listens there: only its origin matters
let srv;    // allowed_origins = APP, one peer
let open;   // allowed_origins = *
before(async () => {
  [srv, open] = await Promise.all([
    startServer({ BLOBSYNC_ALLOWED_ORIGINS: APP, BLOBSYNC_PEERS: PEER, BLOBSYNC_HOSTNAME: 'blobs.example' }),
    startServer({ BLOBSYNC_ALLOWED_ORIGINS: '*' }),
  ]);
});
after(async () => {
  assert.equal(await srv.stop(), 0);
  assert.equal(await open.stop(), 0);
});

// One request with exactly these headers (fetch would add or refuse some).
function request(s, method, p, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, method, path: p, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json = null;
        try { json = JSON.parse(buf.toString()); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, body: buf });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const describe = (s, headers) => request(s, 'GET', '/xrpc/com.atproto.server.describeServer', headers);

function assertRefused(r) {
  assert.equal(r.status, 403);
  assert.equal(r.json.error, 'Forbidden');
  assert.match(r.json.message, /origin/);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
}

// Resolves 'open' once the socket is open, or the refusal's HTTP status.
function upgrade(s, origin, { host } = {}) {
  return new Promise((resolve, reject) => {
    const headers = host ? { host } : {};
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/sync/origin-room`, { ...(origin ? { origin } : {}), headers });
    ws.on('open', () => { ws.close(); resolve('open'); });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    ws.on('error', (e) => reject(e));
  });
}

test('a request without Origin is not affected (CLI, Node, curl)', async () => {
  const r = await describe(srv);
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assert.equal(r.headers.vary, 'Origin', 'API responses vary by Origin, for caches');
  assert.equal(await upgrade(srv), 'open');
});

test('a cross-origin request is refused with 403 Forbidden; a listed one gets CORS headers', async () => {
  assertRefused(await describe(srv, { origin: 'http://evil.example' }));
  assertRefused(await request(srv, 'GET', `/blobs/${'0'.repeat(64)}`, { origin: 'http://evil.example' }));
  // Refused everywhere, not only on the API.
  assertRefused(await request(srv, 'GET', '/healthz', { origin: 'http://evil.example' }));
  const ok = await describe(srv, { origin: APP });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], APP);
  assert.equal(ok.headers.vary, 'Origin');
  for (const h of ['content-length', 'content-range', 'etag', 'retry-after'])
    assert.match(ok.headers['access-control-expose-headers'].toLowerCase(), new RegExp(h));
  assert.equal(ok.headers['access-control-allow-credentials'], undefined, 'Bearer tokens, never cookies');
});

test('origins are compared canonically: case, default ports; look-alikes refused', async () => {
  for (const o of ['HTTPS://APP.EXAMPLE', 'https://app.example:443', 'https://App.Example:443'])
    assert.equal((await describe(srv, { origin: o })).status, 200, o);
  for (const o of ['https://app.example:8443', 'http://app.example', 'https://app.example.evil.example',
    'https://evilapp.example', 'https://app.example/', 'https://app.example/path', 'https://user@app.example',
    'https://app%2eexample', 'https://app.example:', 'app.example', 'https://app.example?x', '*', ''])
    assertRefused(await describe(srv, { origin: o }));
});

test('preflight: 204 with the allowed methods and headers, echoing the origin', async () => {
  const r = await request(srv, 'OPTIONS', '/xrpc/com.atproto.repo.uploadBlob', {
    origin: APP, 'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type, atproto-accept-labelers',
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers['content-length'], undefined);
  assert.equal(r.headers['access-control-allow-origin'], APP);
  assert.equal(r.headers.vary, 'Origin');
  const methods = r.headers['access-control-allow-methods'];
  for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']) assert.match(methods, new RegExp(`\\b${m}\\b`));
  const allowed = r.headers['access-control-allow-headers'].toLowerCase();
  for (const h of ['authorization', 'content-type', 'range', 'atproto-accept-labelers']) assert.match(allowed, new RegExp(h));
  assert.ok(Number(r.headers['access-control-max-age']) > 0);
  const blobs = await request(srv, 'OPTIONS', `/blobs/${'ab'.repeat(32)}`,
    { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' });
  assert.equal(blobs.status, 204);
  assertRefused(await request(srv, 'OPTIONS', '/xrpc/com.atproto.repo.uploadBlob',
    { origin: 'http://evil.example', 'access-control-request-method': 'POST' }));
});

test('CORS on actual uploads and downloads of /blobs (PUT, GET with Range)', async () => {
  const acct = await createAccount(srv.base, 'cors');
  const bytes = crypto.randomBytes(1000);
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const put = await request(srv, 'PUT', `/blobs/${hex}`, {
    origin: APP, authorization: `Bearer ${acct.accessJwt}`, 'content-type': 'application/octet-stream',
    'content-length': String(bytes.length),
  }, bytes);
  assert.equal(put.status, 201);
  assert.equal(put.headers['access-control-allow-origin'], APP);
  const get = await request(srv, 'GET', `/blobs/${hex}`, { origin: APP, range: 'bytes=10-19' });
  assert.equal(get.status, 206);
  assert.deepEqual(get.body, bytes.subarray(10, 20));
  assert.equal(get.headers['access-control-allow-origin'], APP);
  assert.match(get.headers['access-control-expose-headers'], /Content-Range/);
  // The same upload from a page on another origin never reaches the store.
  const other = crypto.randomBytes(1000);
  const otherHex = crypto.createHash('sha256').update(other).digest('hex');
  assertRefused(await request(srv, 'PUT', `/blobs/${otherHex}`, {
    origin: 'http://evil.example', authorization: `Bearer ${acct.accessJwt}`,
    'content-type': 'application/octet-stream', 'content-length': String(other.length),
  }, other));
  assert.equal((await request(srv, 'GET', `/blobs/${otherHex}`)).status, 404);
});

test('WebSocket upgrade: a cross-origin one refused before 101, an allowed one accepted', async () => {
  const refused = await upgrade(srv, 'http://evil.example');
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error, 'Forbidden');
  assert.equal(await upgrade(srv, APP), 'open');
  assert.equal(await upgrade(srv, 'https://APP.example:443'), 'open');
  assert.equal((await upgrade(srv, 'null')).status, 403);
});

test("the server's own origin and a peer's are accepted", async () => {
  const own = `http://127.0.0.1:${srv.port}`;
  assert.equal((await describe(srv, { origin: own })).headers['access-control-allow-origin'], own);
  assert.equal(await upgrade(srv, own), 'open');
  // Reached under another name of its own (localhost, the configured hostname): same-origin.
  assert.equal((await describe(srv, { origin: `http://localhost:${srv.port}`, host: `localhost:${srv.port}` })).status, 200);
  assert.equal((await describe(srv, { origin: 'https://blobs.example', host: 'blobs.example' })).status, 200);
  // A TLS proxy in front passing Host through.
  assert.equal((await describe(srv, { origin: `https://127.0.0.1:${srv.port}`, host: `127.0.0.1:${srv.port}` })).status, 200);
  // Another port of the same host is another origin.
  assertRefused(await describe(srv, { origin: `http://127.0.0.1:${srv.port + 1}` }));
  // DNS rebinding: a page on evil.example whose name now resolves to this
  // server sends a Host and an Origin that agree; the name is not ours.
  assertRefused(await describe(srv, { origin: `http://evil.example:${srv.port}`, host: `evil.example:${srv.port}` }));
  assert.equal((await upgrade(srv, `http://evil.example:${srv.port}`, { host: `evil.example:${srv.port}` })).status, 403);
  // A configured peer's origin.
  assert.equal((await describe(srv, { origin: 'http://127.0.0.1:9' })).status, 200);
  assert.equal(await upgrade(srv, 'http://127.0.0.1:9'), 'open');
});

test("the 'null' origin is refused unless allowed_origins is *", async () => {
  assertRefused(await describe(srv, { origin: 'null' }));
  const r = await describe(open, { origin: 'null' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'null');
});

test('allowed_origins = * allows every origin (echoed), HTTP and WebSocket', async () => {
  const r = await describe(open, { origin: 'http://anything.example:8080' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'http://anything.example:8080');
  const pre = await request(open, 'OPTIONS', '/xrpc/com.atproto.server.createSession',
    { origin: 'http://anything.example:8080', 'access-control-request-method': 'POST' });
  assert.equal(pre.status, 204);
  assert.equal(await upgrade(open, 'http://anything.example:8080'), 'open');
  assert.equal(await upgrade(open, 'null'), 'open');
});

test('bad allowed_origins entries stop the server at start, naming the key', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-origins-'));
  try {
    for (const bad of ['null', 'https://app.example/path', 'app.example', 'https://user@app.example']) {
      const r = spawnSync(BIN, ['--data', dir, 'serve', '--listen', '127.0.0.1:0', '--allowed-origins', bad],
        { env: { ...process.env, BLOBSYNC_JWT_SECRET: SECRET }, encoding: 'utf8', timeout: 10000 });
      assert.notEqual(r.status, 0, bad);
      assert.match(r.stderr, /allowed_origins/, bad);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
