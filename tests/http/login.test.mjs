// Login (createSession): the same cost whether or not the account exists, and
// attempts limited per account and per client address. docs/security.md, "Login".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, createAccount } from './server.mjs';

const servers = [];
after(async () => { for (const s of servers) assert.equal(await s.stop(), 0); });
async function server(env) {
  const s = await startServer(env);
  servers.push(s);
  return s;
}

// createSession from `localAddress` (every 127/8 address is this host).
function login(s, identifier, password, localAddress = '127.0.0.1') {
  const body = JSON.stringify({ identifier, password });
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.request({
      host: '127.0.0.1', port: s.port, method: 'POST', path: '/xrpc/com.atproto.server.createSession', localAddress,
      agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, json: JSON.parse(text), text,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
      }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

test('a login for a missing account costs what a wrong password costs', async () => {
  const s = await server({ BLOBSYNC_LOGIN_RATE: 'off', BLOBSYNC_LOGIN_RATE_ADDRESS: 'off' });
  const acct = await createAccount(s.base, 'timing');
  const email = `${acct.handle}@example.com`;
  const cases = {
    wrongPassword: () => login(s, acct.handle, 'wrong password'),
    wrongPasswordByEmail: () => login(s, email, 'wrong password'),
    missingHandle: () => login(s, `nobody${Math.random().toString(36).slice(2)}.test`, 'wrong password'),
    missingEmail: () => login(s, `nobody${Math.random().toString(36).slice(2)}@example.com`, 'wrong password'),
    missingDid: () => login(s, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'wrong password'),
  };
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  let body;
  for (const f of Object.values(cases)) await f();  // warm up
  // Interleaved, so load from other processes hits every case alike.
  for (let i = 0; i < 15; i++) {
    for (const [k, f] of Object.entries(cases)) {
      const r = await f();
      assert.equal(r.status, 401, k);
      body ??= r.text;
      assert.equal(r.text, body, `${k}: the same answer whether or not the account exists`);
      times[k].push(r.ms);
    }
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const base = med.wrongPassword;
  console.log('login medians (ms):', JSON.stringify(med));
  // The check below only means something if a login does real hashing work:
  // argon2id with libsodium's interactive limits takes ~50-90 ms here, a
  // lookup that skips it ~1-3 ms.
  assert.ok(base > 15, `a wrong password takes ${base} ms: is the password hash still argon2id?`);
  // Medians of 15 interleaved attempts each: within a factor of 2 on a noisy
  // 2-core machine; a path that skips hashing would be ~20x faster.
  for (const [k, m] of Object.entries(med))
    assert.ok(m > base / 2 && m < base * 2, `${k}: median ${m} ms vs wrong password ${base} ms`);
});

test('login attempts are limited per account (429 RateLimitExceeded with Retry-After)', async () => {
  const s = await server({ BLOBSYNC_LOGIN_RATE: '3/min', BLOBSYNC_LOGIN_RATE_ADDRESS: 'off' });
  const acct = await createAccount(s.base, 'limited');
  const other = await createAccount(s.base, 'other');
  for (let i = 0; i < 3; i++) assert.equal((await login(s, acct.handle, 'guess')).status, 401);
  const limited = await login(s, acct.handle, 'hunter2');
  assert.equal(limited.status, 429, 'even the right password, once over the limit');
  assert.equal(limited.json.error, 'RateLimitExceeded');
  const retry = Number(limited.headers['retry-after']);
  assert.ok(retry >= 1 && retry <= 20, `Retry-After ${limited.headers['retry-after']} (3/min refills one every 20 s)`);
  // The identifier as typed, case aside, from any address.
  assert.equal((await login(s, acct.handle.toUpperCase(), 'hunter2', '127.0.0.2')).status, 429);
  // Another account is not affected.
  assert.equal((await login(s, other.handle, 'hunter2')).status, 200);
  // A missing account is limited exactly like an existing one.
  const ghost = 'ghost.test';
  for (let i = 0; i < 3; i++) assert.equal((await login(s, ghost, 'guess')).status, 401);
  const g = await login(s, ghost, 'guess');
  assert.equal(g.status, 429);
  assert.equal(g.json.error, 'RateLimitExceeded');
  // A refused attempt costs no hashing.
  assert.ok(g.ms < 40, `a refused attempt took ${g.ms} ms`);
});

test('login attempts are limited per address, whatever the account', async () => {
  const s = await server({ BLOBSYNC_LOGIN_RATE: 'off', BLOBSYNC_LOGIN_RATE_ADDRESS: '4/min' });
  const a = await createAccount(s.base, 'addra');
  const b = await createAccount(s.base, 'addrb');
  assert.equal((await login(s, a.handle, 'hunter2')).status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await login(s, a.handle, 'guess')).status, 401);
  // A different account from the same address: limited by the address.
  const r = await login(s, b.handle, 'hunter2');
  assert.equal(r.status, 429);
  assert.equal(r.json.error, 'RateLimitExceeded');
  assert.match(r.json.message, /address/);
  assert.ok(Number(r.headers['retry-after']) >= 1);
  // Another address is not.
  assert.equal((await login(s, b.handle, 'hunter2', '127.0.0.2')).status, 200);
});

// createAccount from `localAddress`; resolves with status, headers, JSON and ms.
function signup(s, handle, localAddress = '127.0.0.1', body = undefined) {
  const text = body ?? JSON.stringify({ handle, email: `${handle}@example.com`, password: 'hunter2' });
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.request({
      host: '127.0.0.1', port: s.port, method: 'POST', path: '/xrpc/com.atproto.server.createAccount', localAddress,
      agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    }, (res) => {
      let out = '';
      res.on('data', (d) => { out += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(out), text: out,
        ms: Number(process.hrtime.bigint() - start) / 1e6 }));
    });
    req.on('error', reject);
    req.end(text);
  });
}
const handleFor = (tag) => `${tag}${Math.random().toString(36).slice(2, 8)}.test`;

test('createAccount is limited per address (create_account_rate_address)', async () => {
  const s = await server({ BLOBSYNC_CREATE_ACCOUNT_RATE_ADDRESS: '3/h' });
  // A malformed body is a 400 and does not count.
  for (let i = 0; i < 5; i++) assert.equal((await signup(s, '', '127.0.0.1', '{"handle": 1}')).status, 400);
  for (let i = 0; i < 3; i++) assert.equal((await signup(s, handleFor('made'))).status, 200, `account ${i + 1} of 3`);
  const handle = handleFor('refused');
  const r = await signup(s, handle);
  assert.equal(r.status, 429);
  assert.equal(r.json.error, 'RateLimitExceeded');
  assert.match(r.json.message, /accounts created from this address/);
  const retry = Number(r.headers['retry-after']);
  assert.ok(retry > 600 && retry <= 1200, `Retry-After ${r.headers['retry-after']} (3/h refills one every 20 min)`);
  assert.ok(r.ms < 40, `a refused createAccount took ${r.ms} ms: it should cost no hashing`);
  // Nothing was stored: the handle is still free, and no login finds it.
  assert.equal((await login(s, handle, 'hunter2', '127.0.0.3')).status, 401);
  // Another address is not limited, and can take the refused handle.
  assert.equal((await signup(s, handle, '127.0.0.2')).status, 200);
  // The refused address stays refused (a refusal takes no token, nor gives one).
  assert.equal((await signup(s, handleFor('again'))).status, 429);
});

test('createAccount: 5 per hour per address by default, off for none', async () => {
  // undefined: the server's default (tests/http/server.mjs turns the limit off otherwise).
  const s = await server({ BLOBSYNC_CREATE_ACCOUNT_RATE_ADDRESS: undefined });
  for (let i = 0; i < 5; i++) assert.equal((await signup(s, handleFor('dflt'))).status, 200, `account ${i + 1} of 5`);
  const r = await signup(s, handleFor('dflt'));
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers['retry-after']) > 360, `Retry-After ${r.headers['retry-after']} (5/h: one every 12 min)`);
  const off = await server({ BLOBSYNC_CREATE_ACCOUNT_RATE_ADDRESS: 'off' });
  for (let i = 0; i < 8; i++) assert.equal((await signup(off, handleFor('off'))).status, 200, `account ${i + 1} of 8, no limit`);
});
