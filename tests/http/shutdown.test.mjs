// Graceful shutdown: SIGTERM lets an in-flight upload finish, closes idle
// connections, and the process exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { startServer, createAccount, storedBlobFiles } from './server.mjs';

test('SIGTERM drains an in-flight upload and exits 0', async () => {
  const srv = await startServer();
  const a = await createAccount(srv.base, 'shut');
  const body = crypto.randomBytes(200000);
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  let response = '';
  sock.on('data', (d) => { response += d; });
  const closed = new Promise((r) => sock.on('close', r));
  sock.write(`POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.accessJwt}\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
  sock.write(body.subarray(0, 100000));
  // An idle keep-alive connection must not hold the shutdown.
  const idle = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => idle.on('connect', r));
  const idleClosed = new Promise((r) => idle.on('close', r));
  await new Promise((r) => setTimeout(r, 300));
  const exited = new Promise((r) => srv.child.on('exit', (code) => r(code)));
  srv.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  sock.end(body.subarray(100000));
  await closed;
  await idleClosed;
  assert.match(response, /^HTTP\/1\.1 200/);
  assert.match(response, /Connection: close/i);
  assert.equal(await exited, 0);
  const hex = crypto.createHash('sha256').update(body).digest('hex');
  assert.ok(storedBlobFiles(srv.dir).includes(hex), 'the in-flight upload was stored');
  await srv.stop();
});
