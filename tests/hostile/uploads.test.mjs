// Hostile: blob-channel uploads that never send a chunk. 8 connections x 8
// idle uploads fill the server's 64 upload slots; upload_idle_timeout ends
// each with ERROR (CANCELLED) and releases its claim, so another client can
// upload within a generous bound. And max_staging_bytes: an UPLOAD that
// would take staging over the cap gets BUSY, bytes come back once stored.
// (Before issue 18 idle uploads held their slots for ever: the fresh
// client got BUSY until the test gave up; and there was no staging cap.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, encoding, until } from './hostile.mjs';
import { BlobClient, T, generatedBlob } from '../interop/sync/blobclient.mjs';

function uploadFrame(req, blob) {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, T.UPLOAD);
  encoding.writeVarUint(e, req);
  encoding.writeUint8Array(e, blob.hash);
  encoding.writeVarUint(e, blob.size);
  encoding.writeVarString(e, 'application/octet-stream');
  encoding.writeVarString(e, '');
  encoding.writeVarUint(e, blob.chunkHashes.length);
  for (const h of blob.chunkHashes) encoding.writeUint8Array(e, h);
  return encoding.toUint8Array(e);
}

test('8 x 8 idle uploads time out and others can upload', async () => {
  const srv = await startServer({ BLOBSYNC_UPLOAD_IDLE_TIMEOUT: '3s' });
  const clients = [];
  try {
    const url = `ws://127.0.0.1:${srv.port}/sync`;
    const replies = [];  // per idle upload: the messages it got
    for (let c = 0; c < 8; c++) {
      const bc = await BlobClient.connect(url, `hostile-idle-${c}`);
      clients.push(bc);
      for (let j = 0; j < 8; j++) {
        const req = bc.req();
        const got = [];
        replies.push(got);
        bc.handlers.set(req, (m) => got.push(m));
        bc.send(uploadFrame(req, generatedBlob(1 << 20, 1 + c * 8 + j)));
      }
    }
    await until(() => replies.every((r) => r.some((m) => m.type === T.WANT || m.type === T.ERROR)),
      'every idle upload answered', 30000);
    const claimed = replies.filter((r) => r.some((m) => m.type === T.WANT)).length;
    assert.equal(claimed, 64, 'the 64 uploads hold the server\'s upload slots');

    const fresh = await BlobClient.connect(url, 'hostile-fresh');
    clients.push(fresh);
    let busy = 0;
    await until(async () => {
      try {
        await fresh.upload(generatedBlob(300000, 999));
        return true;
      } catch (e) {
        if (e.code !== 'BUSY') throw e;
        busy++;
        await new Promise((r) => setTimeout(r, 200));
        return false;
      }
    }, () => `an upload goes through (BUSY ${busy} times)`, 60000);
    await until(() => replies.every((r) => r.some((m) => m.type === T.ERROR && m.code === 9)),
      'every idle upload ended with ERROR CANCELLED', 30000);
    assert.match(replies[0].find((m) => m.type === T.ERROR).message, /upload_idle_timeout/);
  } finally {
    for (const c of clients) c.terminate();
    await srv.stop();
  }
});

test('max_staging_bytes: an upload over the cap gets BUSY, stored uploads give bytes back', async () => {
  const srv = await startServer({ BLOBSYNC_MAX_STAGING_BYTES: '2MiB' });
  let bc;
  try {
    bc = await BlobClient.connect(`ws://127.0.0.1:${srv.port}/sync`, 'hostile-staging');
    await assert.rejects(bc.upload(generatedBlob(3 << 20, 7)),
      (e) => e.code === 'BUSY' && /max_staging_bytes/.test(e.message));
    assert.ok((await bc.upload(generatedBlob(1 << 20, 8))).done, 'an upload within the cap is stored');
    // 1 MiB + 1.5 MiB > 2 MiB: this goes through only if the first gave its bytes back.
    assert.ok((await bc.upload(generatedBlob(3 << 19, 9))).done, 'the stored upload\'s staging bytes came back');
  } finally {
    bc?.terminate();
    await srv.stop();
  }
});
