// Interop: the official @atproto/api client against the real blobsync binary.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { AtpAgent } from '@atproto/api';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import {
  startServer, runGc, storedBlobFiles, pngBytes, jpegBytes, mp4Bytes,
} from '../../http/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { assert.equal(await srv.stop(), 0); });

async function cidOf(bytes) {
  return CID.create(1, raw.code, await sha256.digest(bytes)).toString();
}

test('@atproto/api: account, login, uploads, post with image, getBlob, listBlobs, delete, gc', async () => {
  const handle = `alice${crypto.randomBytes(3).toString('hex')}.test`;
  const signup = new AtpAgent({ service: srv.base });
  const created = await signup.createAccount({ handle, email: `${handle}@example.com`, password: 'correct horse' });
  assert.match(created.data.did, /^did:plc:[a-z2-7]{24}$/);

  const agent = new AtpAgent({ service: srv.base });
  await agent.login({ identifier: handle, password: 'correct horse' });
  const did = agent.session.did;
  assert.equal(did, created.data.did);
  const desc = await agent.com.atproto.server.describeServer();
  assert.equal(desc.data.blobUploadLimit, 100 * 1024 * 1024);

  const files = {
    jpeg: [jpegBytes(), 'image/jpeg'],
    png: [pngBytes(), 'image/png'],
    mp4: [mp4Bytes(), 'video/mp4'],
    unknown: [crypto.randomBytes(4096), 'application/octet-stream'],
  };
  const blobs = {};
  for (const [name, [bytes, type]] of Object.entries(files)) {
    const res = await agent.uploadBlob(bytes, { encoding: type });
    const blob = res.data.blob;
    assert.equal(blob.mimeType, type, name);
    assert.equal(blob.size, bytes.length, name);
    assert.equal(blob.ref.toString(), await cidOf(bytes), `${name}: CID equals multiformats'`);
    blobs[name] = blob;
  }

  const post = await agent.post({
    text: 'hello from blobsync',
    createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images: [{ alt: 'a pixel', image: blobs.png }] },
  });
  assert.match(post.uri, new RegExp(`^at://${did}/app.bsky.feed.post/`));

  const got = await agent.com.atproto.sync.getBlob({ did, cid: blobs.png.ref.toString() });
  assert.deepEqual(Buffer.from(got.data), files.png[0]);
  assert.equal(got.headers['content-type'], 'image/png');

  // Blobs not referenced by any record are not served.
  await assert.rejects(agent.com.atproto.sync.getBlob({ did, cid: blobs.jpeg.ref.toString() }),
    (e) => e.status === 400 && e.error === 'BlobNotFound');

  const list = await agent.com.atproto.sync.listBlobs({ did });
  assert.deepEqual(list.data.cids, [blobs.png.ref.toString()]);

  const rec = await agent.com.atproto.repo.getRecord({ repo: did, collection: 'app.bsky.feed.post', rkey: post.uri.split('/').pop() });
  assert.equal(rec.data.value.text, 'hello from blobsync');

  await agent.deletePost(post.uri);
  const after = await agent.com.atproto.sync.listBlobs({ did });
  assert.deepEqual(after.data.cids, []);

  const pngHex = crypto.createHash('sha256').update(files.png[0]).digest('hex');
  assert.ok(storedBlobFiles(srv.dir).includes(pngHex));
  const report = runGc(srv.dir, '0');
  assert.equal(report.blobsDeleted, 4, JSON.stringify(report));
  assert.deepEqual(storedBlobFiles(srv.dir), []);

  // Session endpoints through the client.
  const session = await agent.com.atproto.server.getSession();
  assert.equal(session.data.handle, handle);
});
