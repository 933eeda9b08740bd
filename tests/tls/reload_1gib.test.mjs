// A certificate reload (SIGHUP) in the middle of a 1 GiB download over TLS:
// the download goes on to the last byte with the old session, while new
// connections get the new certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import { startTls, peerCert, CA } from './tls.mjs';

const GIB = 1 << 30;
const BLOCK = crypto.randomBytes(1 << 20);  // the blob: this MiB 1024 times

let srv;
before(async () => { srv = await startTls({}, ['--max-upload-bytes', '2GiB']); });
after(async () => { assert.equal(await srv.stop(), 0); });

async function until(cond, what, ms = 20000) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function upload(hex, token) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${srv.base}/blobs/${hex}`, {
      method: 'PUT', ca: CA,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': GIB },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    let i = 0;
    const more = () => {
      while (i < 1024) {
        i++;
        if (!req.write(BLOCK)) return req.once('drain', more);
      }
      req.end();
    };
    more();
  });
}

test('SIGHUP during a 1 GiB download over TLS does not break it', async () => {
  const hash = crypto.createHash('sha256');
  for (let i = 0; i < 1024; i++) hash.update(BLOCK);
  const hex = hash.digest('hex');
  const acct = await fetch(`${srv.base}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle: 'gib.test', email: 'gib@example.com', password: 'pw' }),
  });
  const { accessJwt } = await acct.json();
  assert.equal(await upload(hex, accessJwt), 201);

  const oldCert = await peerCert(srv.port);
  const got = crypto.createHash('sha256');
  let bytes = 0;
  let reloaded = false;
  await new Promise((resolve, reject) => {
    https.get(`${srv.base}/blobs/${hex}`, { ca: CA, agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.socket.getPeerCertificate().subject.CN, 'blobsync test server 1');
      res.on('data', async (d) => {
        got.update(d);
        bytes += d.length;
        if (!reloaded && bytes >= 100 << 20) {
          reloaded = true;
          // Hold the download still while the certificate changes under it.
          res.pause();
          try {
            srv.install('server2-chain.pem', 'server2.key');
            srv.child.kill('SIGHUP');
            await until(() => /TLS certificate reloaded/.test(srv.stderr()), 'the reload');
            const now = await peerCert(srv.port);
            assert.equal(now.cn, 'blobsync test server 2');
            assert.notEqual(now.serial, oldCert.serial);
          } catch (e) {
            reject(e);
          }
          res.resume();
        }
      });
      res.on('end', resolve);
      res.on('error', reject);
    }).on('error', reject);
  });
  assert.ok(reloaded, 'the reload happened during the download');
  assert.equal(bytes, GIB);
  assert.equal(got.digest('hex'), hex, 'every byte arrived intact');
});
