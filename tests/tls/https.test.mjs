// HTTPS on the server's one port: the official @atproto/api client over
// https:// (trusting the test CA through NODE_EXTRA_CA_CERTS), a large blob
// through the buffered TLS path, plain HTTP to the TLS port, clients that
// must not get in (an unrelated CA, TLS 1.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { AtpAgent } from '@atproto/api';
import { pngBytes } from '../http/server.mjs';
import { startTls, connectTls, peerCert, rawExchange, cert } from './tls.mjs';

let srv;
before(async () => { srv = await startTls(); });
after(async () => { assert.equal(await srv.stop(), 0); });

test('@atproto/api over https: account, login, uploadBlob, getBlob', async () => {
  const handle = `tls${crypto.randomBytes(3).toString('hex')}.test`;
  const agent = new AtpAgent({ service: srv.base });
  await agent.createAccount({ handle, email: `${handle}@example.com`, password: 'correct horse' });
  await agent.login({ identifier: handle, password: 'correct horse' });
  const bytes = pngBytes();
  const up = await agent.uploadBlob(bytes, { encoding: 'image/png' });
  assert.equal(up.data.blob.size, bytes.length);
  // Only blobs a record references are served.
  await agent.post({ text: 'over TLS', createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images: [{ alt: 'a pixel', image: up.data.blob }] } });
  const got = await agent.com.atproto.sync.getBlob({ did: agent.session.did, cid: up.data.blob.ref.toString() });
  assert.ok(Buffer.from(got.data).equals(bytes), 'the blob comes back intact over TLS');
});

test('a 24 MiB blob up and down over TLS, byte for byte (no sendfile: the buffered path)', async () => {
  const res = await fetch(`${srv.base}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle: 'big.test', email: 'big@example.com', password: 'pw' }),
  });
  const { accessJwt } = await res.json();
  const bytes = crypto.randomBytes(24 << 20);
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const put = await fetch(`${srv.base}/blobs/${hex}`, {
    method: 'PUT', body: bytes, headers: { authorization: `Bearer ${accessJwt}`, 'content-type': 'application/octet-stream' },
  });
  assert.equal(put.status, 201, await put.text());
  const get = await fetch(`${srv.base}/blobs/${hex}`);
  assert.equal(get.status, 200);
  const back = Buffer.from(await get.arrayBuffer());
  assert.equal(crypto.createHash('sha256').update(back).digest('hex'), hex);
  // A range: the same path, a slice.
  const part = await fetch(`${srv.base}/blobs/${hex}`, { headers: { range: 'bytes=1000-1999' } });
  assert.equal(part.status, 206);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000, 2000)));
});

test('the certificate presented is the configured one, for localhost and 127.0.0.1, over TLS 1.3', async () => {
  const c = await peerCert(srv.port);
  assert.equal(c.cn, 'blobsync test server 1');
  const s = await connectTls(srv.port, { servername: undefined });  // no SNI: the IP SAN
  assert.equal(s.getProtocol(), 'TLSv1.3');
  assert.equal(s.authorized, true);
  s.destroy();
});

test('plain HTTP to the TLS port: a plain 400 that says the port speaks TLS, then close', async () => {
  const { data } = await rawExchange(srv.port, 'GET /xrpc/_health HTTP/1.1\r\nHost: localhost\r\n\r\n');
  const text = data.toString();
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /This port speaks TLS/);
});

test('a client trusting only an unrelated CA refuses the server; TLS 1.1 is not offered', async () => {
  await assert.rejects(connectTls(srv.port, { ca: fs.readFileSync(cert('other-ca.pem')) }),
    (e) => /self[- ]signed|unable to (get|verify)|UNABLE_TO/i.test(`${e.code} ${e.message}`));
  await assert.rejects(connectTls(srv.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }));
  const health = await fetch(`${srv.base}/xrpc/_health`);
  assert.equal(health.status, 200, 'the server is still fine');
});
