// Issue 17: GET /blobs/<hash> serves public blobs (held: referenced by a
// record, listed in a room, or pinned) to anyone, never a temporary upload;
// with blobs_public = false only a credential of this server opens it: an
// ATProto access token, a sync token (read-only too) or the admin token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, xrpc, createAccount } from './server.mjs';

const SYNC = 'sync-token-0123456789';
const SYNC_RO = 'sync-ro-token-0123456789';
const ADMIN = 'admin-token-0123456789';

const put = (srv, token, bytes) => {
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  return fetch(`${srv.base}/blobs/${hex}`, { method: 'PUT', body: bytes, headers: { authorization: `Bearer ${token}` } })
    .then((r) => { assert.equal(r.status, 201); return hex; });
};
const get = (srv, hex, token) =>
  fetch(`${srv.base}/blobs/${hex}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

test('public by default: held blobs to anyone, temporary uploads to no one', async () => {
  const srv = await startServer();
  try {
    const acct = await createAccount(srv.base, 'pub');
    const hex = await put(srv, acct.accessJwt, crypto.randomBytes(1000));
    assert.equal((await get(srv, hex)).status, 200);
    const temp = crypto.randomBytes(1000);
    const up = await xrpc(srv.base, 'POST', 'com.atproto.repo.uploadBlob',
      { token: acct.accessJwt, body: temp, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(up.status, 200);
    const tempHex = crypto.createHash('sha256').update(temp).digest('hex');
    const r = await get(srv, tempHex, acct.accessJwt);
    assert.equal(r.status, 404, 'a temporary upload is not served, even to its uploader');
  } finally { await srv.stop(); }
});

test('blobs_public = false: only this server\'s credentials read blobs', async () => {
  const srv = await startServer({
    BLOBSYNC_BLOBS_PUBLIC: 'false', BLOBSYNC_SYNC_TOKENS: SYNC, BLOBSYNC_SYNC_READ_ONLY_TOKENS: SYNC_RO,
    BLOBSYNC_ADMIN_TOKEN: ADMIN,
  });
  try {
    const acct = await createAccount(srv.base, 'priv');
    const hex = await put(srv, acct.accessJwt, crypto.randomBytes(1000));
    const anon = await get(srv, hex);
    assert.equal(anon.status, 401);
    assert.equal((await anon.json()).error, 'AuthenticationRequired');
    for (const [what, token] of [['access token', acct.accessJwt], ['sync token', SYNC], ['read-only sync token', SYNC_RO], ['admin token', ADMIN]]) {
      const r = await get(srv, hex, token);
      assert.equal(r.status, 200, what);
      await r.arrayBuffer();
    }
    for (const [what, token] of [['refresh token', acct.refreshJwt], ['wrong token', 'sync-token-0123456780'], ['prefix of a token', SYNC.slice(0, -1)]]) {
      const r = await get(srv, hex, token);
      assert.equal(r.status, 401, what);
      assert.ok(['InvalidToken', 'ExpiredToken', 'AuthenticationRequired'].includes((await r.json()).error), what);
    }
    // Absent blobs need the credential too: no existence oracle for strangers.
    assert.equal((await get(srv, crypto.randomBytes(32).toString('hex'))).status, 401);
  } finally { await srv.stop(); }
});
