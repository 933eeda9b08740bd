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

const hexOf = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

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

// Known lexicons are validated as the reference PDS validates them
// (@atproto/lexicon's assertValidRecord, then the slots' accept/maxSize
// against the stored blob); unknown ones are stored as they are.
test('@atproto/api: lexicon checks: non-blob in a blob slot, wrong MIME, over maxSize, validate flag', async () => {
  const handle = `lex${crypto.randomBytes(3).toString('hex')}.test`;
  const agent = new AtpAgent({ service: srv.base });
  await agent.createAccount({ handle, email: `${handle}@example.com`, password: 'pw-lexicon' });
  const did = agent.session.did;
  const png = (await agent.uploadBlob(pngBytes(), { encoding: 'image/png' })).data.blob;
  const mp4 = (await agent.uploadBlob(mp4Bytes(), { encoding: 'video/mp4' })).data.blob;
  // A PNG (signature first, so it sniffs as one) past the avatar's 1 MB.
  const bigBytes = Buffer.concat([pngBytes(), crypto.randomBytes(1_100_000)]);
  const big = (await agent.uploadBlob(bigBytes, { encoding: 'image/png' })).data.blob;
  const create = (collection, record, extra = {}) =>
    agent.com.atproto.repo.createRecord({ repo: did, collection, record, ...extra });
  const postWith = (image) => ({
    $type: 'app.bsky.feed.post', text: 'lexicon', createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images: [{ alt: 'x', image }] },
  });
  const refused = (name, re) => (e) => e.status === 400 && e.error === name && re.test(e.message);

  // The case: a plain object in the slot, a valid ref nested in it.
  await assert.rejects(create('app.bsky.feed.post', postWith({ wrapper: png })),
    refused('InvalidRequest', /^Invalid app\.bsky\.feed\.post record: Record\/embed\/images\/0\/image should be a blob ref$/));
  assert.deepEqual((await agent.com.atproto.sync.listBlobs({ did })).data.cids, [], 'the nested ref was not counted');
  await assert.rejects(create('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', avatar: 'a string' }, { rkey: 'self' }),
    refused('InvalidRequest', /Record\/avatar should be a blob ref/));
  // Structure: a missing required property, a too-long string.
  await assert.rejects(create('app.bsky.feed.post', { text: 'no date' }),
    refused('InvalidRequest', /Record must have the property "createdAt"/));
  await assert.rejects(create('app.bsky.feed.post', { text: 'x'.repeat(301), createdAt: new Date().toISOString() }),
    refused('InvalidRequest', /Record\/text must not be longer than 300 graphemes/));

  // Wrong MIME for the slot: a video where images/* go.
  await assert.rejects(create('app.bsky.feed.post', postWith(mp4)),
    refused('InvalidMimeType', /Wrong type of file\. It is video\/mp4 but it must match image\/\*/));
  // Over maxSize: the avatar takes 1 MB at most.
  await assert.rejects(create('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', avatar: big }, { rkey: 'self' }),
    refused('BlobTooLarge', /maximum size is 1000000 bytes/));
  assert.deepEqual((await agent.com.atproto.sync.listBlobs({ did })).data.cids, []);

  // Valid records: validationStatus "valid", the blob counted.
  const ok = await create('app.bsky.actor.profile', { $type: 'app.bsky.actor.profile', displayName: 'L', avatar: png },
    { rkey: 'self' });
  assert.equal(ok.data.validationStatus, 'valid');
  const put = await agent.com.atproto.repo.putRecord({ repo: did, collection: 'app.bsky.actor.profile', rkey: 'self',
    record: { $type: 'app.bsky.actor.profile', displayName: 'L2', avatar: png, banner: png } });
  assert.equal(put.data.validationStatus, 'valid');
  await assert.rejects(agent.com.atproto.repo.putRecord({ repo: did, collection: 'app.bsky.actor.profile', rkey: 'self',
    record: { $type: 'app.bsky.actor.profile', banner: mp4 } }), refused('InvalidMimeType', /must match image\/png, image\/jpeg\./));
  assert.deepEqual((await agent.com.atproto.sync.listBlobs({ did })).data.cids, [png.ref.toString()]);

  // validate: false is honoured (no lexicon, so no slot constraints); an
  // unknown lexicon keeps today's behaviour (stored, blobs counted, status
  // "unknown") unless validate: true asks for a lexicon.
  const unchecked = await create('app.bsky.feed.post', postWith(mp4), { validate: false });
  assert.equal(unchecked.data.validationStatus, undefined);
  const unknown = await create('com.example.file', { $type: 'com.example.file', file: { any: big } });
  assert.equal(unknown.data.validationStatus, 'unknown');
  await assert.rejects(create('com.example.file', { $type: 'com.example.file' }, { validate: true }),
    refused('InvalidRequest', /^Lexicon not found: lex:com\.example\.file$/));
  const cids = (await agent.com.atproto.sync.listBlobs({ did })).data.cids;
  assert.deepEqual([...cids].sort(), [png.ref.toString(), mp4.ref.toString(), big.ref.toString()].sort());
});

// deleteAccount as on the reference PDS (requestAccountDelete's token is
// logged, not e-mailed): the account's records, references and claims go,
// so its blobs follow the lifecycle; a blob another account's record holds stays.
test('@atproto/api: requestAccountDelete + deleteAccount, then gc collects the account\'s blobs', async () => {
  const own = await startServer();
  try {
    const newAgent = async (name, password) => {
      const handle = `${name}${crypto.randomBytes(3).toString('hex')}.test`;
      const agent = new AtpAgent({ service: own.base });
      await agent.createAccount({ handle, email: `${handle}@example.com`, password });
      return agent;
    };
    const alice = await newAgent('del', 'alice-password');
    const bob = await newAgent('keep', 'bob-password');
    const did = alice.session.did;
    const mine = Buffer.concat([pngBytes(), crypto.randomBytes(64)]);
    const unreferenced = jpegBytes();
    const shared = Buffer.concat([pngBytes(), crypto.randomBytes(64)]);
    const post = async (agent, bytes) => {
      const blob = (await agent.uploadBlob(bytes, { encoding: 'image/png' })).data.blob;
      await agent.com.atproto.repo.createRecord({ repo: agent.session.did, collection: 'app.bsky.feed.post',
        record: { $type: 'app.bsky.feed.post', text: 't', createdAt: new Date().toISOString(),
          embed: { $type: 'app.bsky.embed.images', images: [{ alt: '', image: blob }] } } });
      return blob;
    };
    const mineBlob = await post(alice, mine);
    await alice.uploadBlob(unreferenced, { encoding: 'image/jpeg' });
    await post(alice, shared);
    const sharedBlob = await post(bob, shared);
    await alice.com.atproto.repo.putRecord({ repo: did, collection: 'com.example.note', rkey: 'n1',
      record: { text: 'an unknown lexicon goes too' } });

    await alice.com.atproto.server.requestAccountDelete();
    const logged = own.stderr().match(/requestAccountDelete: token for (\S+) \((did:plc:[a-z2-7]+)\): ([A-Z2-7]{5}-[A-Z2-7]{5})/);
    assert.ok(logged, own.stderr());
    assert.equal(logged[1], alice.session.handle);
    assert.equal(logged[2], did);
    const token = logged[3];

    const del = (body) => alice.com.atproto.server.deleteAccount(body);
    await assert.rejects(del({ did, password: 'alice-password', token: 'AAAAA-AAAAA' }),
      (e) => e.status === 400 && e.error === 'InvalidToken');
    await assert.rejects(del({ did, password: 'wrong', token }), (e) => e.status === 401);
    await assert.rejects(del({ did: bob.session.did, password: 'bob-password', token }),
      (e) => e.status === 400 && e.error === 'InvalidToken', "alice's token does not delete bob");
    await assert.rejects(del({ did: alice.session.handle, password: 'alice-password', token }),
      (e) => e.status === 401, 'the DID itself, not a handle');
    await del({ did, password: 'alice-password', token: token.toLowerCase() });

    // The account is gone: no session, no login, no repo, no second delete.
    await assert.rejects(alice.com.atproto.server.getSession(), (e) => e.status === 401);
    await assert.rejects(new AtpAgent({ service: own.base }).login({ identifier: did, password: 'alice-password' }),
      (e) => e.status === 401);
    await assert.rejects(bob.com.atproto.sync.listBlobs({ did }), (e) => e.status === 400 && e.error === 'RepoNotFound');
    await assert.rejects(bob.com.atproto.repo.getRecord({ repo: did, collection: 'com.example.note', rkey: 'n1' }),
      (e) => e.status === 400 && e.error === 'RepoNotFound');
    await assert.rejects(del({ did, password: 'alice-password', token }), (e) => e.status === 401);

    // Until gc, the bytes are still there (the grace period); then they go,
    // but for the blob bob's post still holds.
    assert.ok(storedBlobFiles(own.dir).includes(hexOf(mine)));
    const report = runGc(own.dir, '0');
    assert.equal(report.blobsDeleted, 2, JSON.stringify(report));
    const left = storedBlobFiles(own.dir);
    assert.ok(!left.includes(hexOf(mine)) && !left.includes(hexOf(unreferenced)), JSON.stringify(left));
    assert.ok(left.includes(hexOf(shared)));
    const plain = await fetch(`${own.base}/blobs/${hexOf(mine)}`);
    assert.equal(plain.status, 404);
    assert.equal((await plain.json()).error, 'BlobNotFound');
    assert.equal((await fetch(`${own.base}/blobs/${hexOf(shared)}`)).status, 200);
    const got = await bob.com.atproto.sync.getBlob({ did: bob.session.did, cid: sharedBlob.ref.toString() });
    assert.deepEqual(Buffer.from(got.data), shared);
    assert.deepEqual((await bob.com.atproto.sync.listBlobs({ did: bob.session.did })).data.cids, [sharedBlob.ref.toString()]);
    assert.notEqual(mineBlob.ref.toString(), sharedBlob.ref.toString());
  } finally {
    assert.equal(await own.stop(), 0);
  }
});
