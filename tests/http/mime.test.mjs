// The MIME rule over HTTP (issue #15): random bytes, what encrypted or
// compressed uploads look like, are accepted as declared; before strong
// signatures 1.3% of them were refused (a DOS .COM or zlib guess), so 300
// uploads met a refusal 98% of the time. A real executable declared as an
// image is still refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, createAccount, storedBlobFiles, elfBytes, cidOfBytes } from './server.mjs';

let srv, token;
before(async () => {
  srv = await startServer();
  token = (await createAccount(srv.base, 'mime')).accessJwt;
});
after(async () => { assert.equal(await srv.stop(), 0, 'server exits 0 on SIGTERM'); });

const put = (bytes, type) => fetch(`${srv.base}/blobs/${cidOfBytes(bytes).hex}`, {
  method: 'PUT', body: bytes,
  headers: { authorization: `Bearer ${token}`, ...(type ? { 'content-type': type } : {}) },
});

test('300 random-byte PUT /blobs are all accepted as application/octet-stream', async () => {
  const bodies = Array.from({ length: 300 }, () => crypto.randomBytes(16 * 1024));
  const refused = [];
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++;
      // Half declare application/octet-stream, half send no Content-Type: both declare nothing.
      const r = await put(bodies[i], i % 2 ? 'application/octet-stream' : undefined);
      const body = await r.json();
      if (r.status !== 201) refused.push(`${bodies[i].subarray(0, 8).toString('hex')}: ${r.status} ${body.message}`);
      else assert.equal(body.mimeType, 'application/octet-stream');
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  assert.deepEqual(refused, [], 'no random upload is refused');
  const got = await fetch(`${srv.base}/blobs/${cidOfBytes(bodies[7]).hex}`);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), bodies[7]);
});

// A DOS stub whose e_lfanew points at "PE\0\0" and a PE32+ header.
function peBytes() {
  const b = Buffer.alloc(1024);
  b.write('MZ', 0);
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(0x8664, 0x84);
  b.writeUInt16LE(1, 0x86);
  b.writeUInt16LE(240, 0x94);
  b.writeUInt16LE(0x22, 0x96);
  b.writeUInt16LE(0x20b, 0x98);
  return b;
}

test('an executable declared image/png is refused, nothing stored', async () => {
  const before = storedBlobFiles(srv.dir).length;
  for (const [name, exe] of [['ELF', elfBytes()], ['PE', peBytes()]]) {
    const r = await put(exe, 'image/png');
    assert.equal(r.status, 400, name);
    const body = await r.json();
    assert.equal(body.error, 'InvalidMimeType', name);
    assert.match(body.message, /executable.*declared as image\/png/, name);
    assert.equal((await fetch(`${srv.base}/blobs/${cidOfBytes(exe).hex}`)).status, 404, name);
    const honest = await put(exe, 'application/octet-stream');
    assert.equal(honest.status, 415, `${name} declared honestly is not on the allow-list`);
  }
  assert.equal(storedBlobFiles(srv.dir).length, before);
});
