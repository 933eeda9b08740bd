// Hostile: slowloris on request heads, request bodies and downloads. A
// connection that trickles (never silent long enough for a silence timeout)
// must still lose its slot: header_timeout bounds the whole head,
// min_transfer_rate (averaged over min_transfer_window) a body either way.
// body_timeout is set to 60 s here so that only the rate can cut a body
// within the bounds below. (Before issue 18 the body and download cases
// went on for as long as the client liked; the head case passed already.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startServer, createAccount, closedWithin } from './hostile.mjs';

let srv;
before(async () => {
  srv = await startServer({
    BLOBSYNC_HEADER_TIMEOUT: '2s', BLOBSYNC_BODY_TIMEOUT: '60s',
    BLOBSYNC_MIN_TRANSFER_RATE: '64KiB', BLOBSYNC_MIN_TRANSFER_WINDOW: '2s',
  });
});
after(async () => { await srv.stop(); });

const BOUND_MS = 20000;  // generous: the limits above act within ~2-5 s

// Writes `piece` every `everyMs` until the server closes; resolves with the
// ms that took and what the server sent.
async function trickle(first, piece, everyMs) {
  const sock = net.connect(srv.port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => { got += d; });
  sock.on('error', () => {});
  await new Promise((resolve) => sock.on('connect', resolve));
  sock.write(first);
  const timer = setInterval(() => { if (!sock.destroyed) sock.write(piece); }, everyMs);
  const closed = closedWithin(sock);
  const ms = await Promise.race([closed, new Promise((r) => setTimeout(() => r(Infinity), BOUND_MS))]);
  clearInterval(timer);
  sock.destroy();
  return { ms, got };
}

test('a request head that trickles is cut at header_timeout', async () => {
  const { ms } = await trickle('GET /xrpc/_health HTTP/1.1\r\n', 'X-Slow: y\r\n', 300);
  assert.ok(ms < BOUND_MS, 'the server closed the connection');
});

test('a request body slower than min_transfer_rate is cut with 408', async () => {
  const acct = await createAccount(srv.base, 'slow');
  const head = 'POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\n' +
    `Authorization: Bearer ${acct.accessJwt}\r\nContent-Type: application/octet-stream\r\n` +
    'Content-Length: 10000000\r\n\r\n';
  const { ms, got } = await trickle(head, Buffer.alloc(1000, 1), 500);  // 2 KB/s, never silent
  assert.ok(ms < BOUND_MS, `the server ended the request (still open after ${BOUND_MS} ms)`);
  assert.match(got, /^HTTP\/1\.1 408/, 'answered 408');
  assert.match(got, /min_transfer_rate/);
});

test('a download read slower than min_transfer_rate is cut', async () => {
  const acct = await createAccount(srv.base, 'dl');
  const bytes = crypto.randomBytes(40 << 20);  // more than loopback's socket buffers hold
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const put = await fetch(`${srv.base}/blobs/${hex}`,
    { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${acct.accessJwt}` } });
  assert.equal(put.status, 201);

  const sock = net.connect(srv.port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise((resolve) => sock.on('connect', resolve));
  sock.pause();  // read nothing: the kernel's buffers fill, then the server waits
  sock.write(`GET /blobs/${hex} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 10000));
  // Now read everything there is: a cut response ends short.
  let received = 0;
  sock.on('data', (d) => { received += d.length; });
  const ended = new Promise((resolve) => sock.on('close', () => resolve(true)));
  sock.resume();
  const closed = await Promise.race([ended, new Promise((r) => setTimeout(() => r(false), BOUND_MS))]);
  sock.destroy();
  assert.ok(closed, 'the server closed the connection');
  assert.ok(received < bytes.length, `the response was cut (${received} of ${bytes.length} body bytes)`);
});
