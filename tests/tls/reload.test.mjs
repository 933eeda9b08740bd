// SIGHUP reloads the certificate: new connections get the new one (a chain
// file: leaf and intermediate), connections already open keep theirs and go
// on serving; a broken file on SIGHUP keeps the current certificate and logs
// an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startTls, connectTls, peerCert, requestOn } from './tls.mjs';

let srv;
before(async () => { srv = await startTls(); });
after(async () => { assert.equal(await srv.stop(), 0); });

async function until(cond, what, ms = 20000) {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGHUP: new connections see the new certificate, an open one keeps going', async () => {
  const before1 = await peerCert(srv.port);
  assert.equal(before1.cn, 'blobsync test server 1');
  const open = await connectTls(srv.port);
  assert.equal((await requestOn(open, '/xrpc/_health')).status, 200);

  srv.install('server2-chain.pem', 'server2.key');
  srv.child.kill('SIGHUP');
  await until(() => /TLS certificate reloaded: subject=\/CN=blobsync test server 2/.test(srv.stderr()), 'the reload log line');
  const after1 = await peerCert(srv.port);
  assert.equal(after1.cn, 'blobsync test server 2');
  assert.notEqual(after1.serial, before1.serial);

  // The connection opened before the reload still works, with its old certificate.
  assert.equal(open.getPeerCertificate().subject.CN, 'blobsync test server 1');
  assert.equal((await requestOn(open, '/xrpc/_health')).status, 200);
  open.destroy();
});

test('SIGHUP with a broken file keeps the current certificate and logs an error', async () => {
  const current = await peerCert(srv.port);
  fs.writeFileSync(srv.certPath, '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n');
  srv.child.kill('SIGHUP');
  await until(() => /TLS certificate not reloaded, keeping subject=\/CN=.*tls_cert/.test(srv.stderr()), 'the error line');
  assert.deepEqual(await peerCert(srv.port), current);
  // A key that does not match the (restored) certificate: refused as well.
  srv.install('server.pem', 'server2.key');
  const errors = srv.stderr().match(/not reloaded/g).length;
  srv.child.kill('SIGHUP');
  await until(() => srv.stderr().match(/not reloaded/g).length > errors, 'the second error line');
  assert.match(srv.stderr(), /does not match the certificate/);
  assert.deepEqual(await peerCert(srv.port), current);
  const r = await fetch(`${srv.base}/xrpc/_health`);
  assert.equal(r.status, 200);
});
