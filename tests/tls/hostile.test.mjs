// Hostile clients of the TLS port: the handshake (ClientHello included) must
// finish within header_timeout and holds a place under max_connections and
// max_connections_per_ip; garbage and half handshakes are closed; the server
// keeps serving through all of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { startTls, connectTls, rawExchange } from './tls.mjs';

let srv;
before(async () => { srv = await startTls({}, ['--header-timeout', '1s', '--max-connections-per-ip', '3']); });
after(async () => { assert.equal(await srv.stop(), 0); });

async function healthy() {
  const r = await fetch(`${srv.base}/xrpc/_health`);
  assert.equal(r.status, 200);
}

test('a client that opens TCP and never sends a ClientHello is closed after header_timeout', async () => {
  const { data, ms } = await rawExchange(srv.port, null);
  assert.equal(data.length, 0, 'nothing is sent to it');
  assert.ok(ms >= 800 && ms < 5000, `closed after ${ms} ms (header_timeout 1s)`);
  await healthy();
});

test('half a ClientHello, then silence: closed after header_timeout', async () => {
  // A TLS handshake record header announcing 512 bytes, and only 20 of them.
  const partial = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), crypto.randomBytes(20)]);
  const { ms } = await rawExchange(srv.port, partial);
  assert.ok(ms >= 800 && ms < 5000, `closed after ${ms} ms`);
  await healthy();
});

test('garbage instead of a ClientHello is closed at once, with nothing sent back in the clear', async () => {
  for (const junk of [Buffer.concat([Buffer.from([0x00]), crypto.randomBytes(300)]),
    Buffer.concat([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x40]), crypto.randomBytes(64)]),  // a handshake record of junk
    Buffer.alloc(4096, 0xff)]) {
    const { data, ms } = await rawExchange(srv.port, junk);
    assert.ok(ms < 800, `closed in ${ms} ms`);
    assert.ok(!data.toString('latin1').includes('HTTP/'), 'no plain HTTP answer to a non-HTTP client');
  }
  await healthy();
});

test('handshakes count under max_connections_per_ip: silent clients hold places until header_timeout', async () => {
  const silent = [];
  for (let i = 0; i < 3; i++) {
    silent.push(await new Promise((resolve) => { const s = net.connect(srv.port, '127.0.0.1', () => resolve(s)); }));
  }
  // The fourth connection from this address is refused (closed, no handshake).
  await assert.rejects(connectTls(srv.port), /ECONNRESET|socket disconnected|EPIPE/);
  // header_timeout frees the places; a real client then gets in.
  await Promise.all(silent.map((s) => new Promise((resolve) => { if (s.destroyed) resolve(); s.on('close', resolve); })));
  await healthy();
});

test('a TLS client that shakes hands and then sends no request is closed after header_timeout', async () => {
  const s = await connectTls(srv.port);
  const start = Date.now();
  await new Promise((resolve) => s.on('close', resolve));
  const ms = Date.now() - start;
  assert.ok(ms >= 800 && ms < 5000, `closed after ${ms} ms`);
  await healthy();
});
