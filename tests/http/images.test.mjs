// Derived images through the real server: the ATProto CDN URL shapes with
// @atproto/api, /blobs/<hash>/image (fit modes, formats, snapping), EXIF
// and GPS gone from every output, EXIF rotation applied, the cache (ETag,
// hits, single flight, restarts) and hostile inputs (bombs, truncated
// files, non-images) answered 4xx without harm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AtpAgent } from '@atproto/api';
import { startServer } from './server.mjs';
import {
  cleanup, convert, twoTone, withExif, pngBomb, header, pixel, sniff, hasExif,
} from './image_files.mjs';

let srv, agent, did, dataDir;
const blobs = {};  // name -> { bytes, cid, hash }

// PUT /blobs/<hash>: stored and pinned, servable at /blobs/<hash>/image without a record.
async function put(name, bytes, type) {
  const hash = crypto.createHash('sha256').update(bytes).digest('hex');
  const res = await fetch(`${srv.base}/blobs/${hash}`, { method: 'PUT', body: bytes,
    headers: { authorization: `Bearer ${agent.session.accessJwt}`, 'content-type': type } });
  assert.equal(res.status, 201, `${name}: ${await res.text()}`);
  blobs[name] = { bytes, hash };
  return blobs[name];
}

async function upload(name, bytes, type) {
  const res = await agent.uploadBlob(bytes, { encoding: type });
  const hash = crypto.createHash('sha256').update(bytes).digest('hex');
  blobs[name] = { bytes, cid: res.data.blob.ref.toString(), hash, blob: res.data.blob };
  return blobs[name];
}

async function get(url, headers = {}) {
  const res = await fetch(new URL(url, srv.base), { headers });
  const body = Buffer.from(await res.arrayBuffer());
  let json = null;
  try { json = JSON.parse(body.toString()); } catch { /* an image */ }
  return { status: res.status, headers: res.headers, body, json };
}

// Derived from the source: a 3200x2400 photo (4:3) with EXIF orientation 1 and a GPS position.
let photo;

before(async () => {
  // Our own data dir, kept across the restart in the last test.
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-images-'));
  srv = await startServer({}, [], { dir: dataDir });
  const handle = `img${crypto.randomBytes(3).toString('hex')}.test`;
  agent = new AtpAgent({ service: srv.base });
  await agent.createAccount({ handle, email: `${handle}@example.com`, password: 'correct horse' });
  did = agent.session.did;
  photo = await upload('photo', withExif(convert(twoTone(3200, 2400), 'photo.jpg[Q=85]'), 1), 'image/jpeg');
  await upload('rotated', withExif(convert(twoTone(400, 200), 'rot.jpg[Q=90]'), 6), 'image/jpeg');
  await upload('png', convert(twoTone(300, 100), 'small.png'), 'image/png');
  await upload('webp', convert(twoTone(640, 480), 'w.webp'), 'image/webp');
  await upload('unreferenced', convert(twoTone(64, 64), 'u.jpg'), 'image/jpeg');
  const images = ['photo', 'rotated', 'png', 'webp'].map((n) => ({ alt: n, image: blobs[n].blob }));
  // One post can embed 4 images: two posts reference everything but `unreferenced`.
  await agent.post({ text: 'images', createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images } });
});

after(async () => {
  assert.equal(await srv.stop(), 0);
  fs.rmSync(dataDir, { recursive: true, force: true });
  cleanup();
});

test('/img presets: documented sizes, formats, no EXIF or GPS', async () => {
  const want = {  // docs/http.md, "Derived images": the source is 3200x2400
    avatar: [1000, 1000], banner: [3000, 1000], feed_thumbnail: [1000, 750], feed_fullsize: [2000, 1500],
  };
  for (const [preset, [w, h]] of Object.entries(want)) {
    for (const fmt of ['jpeg', 'webp']) {
      const r = await get(`/img/${preset}/plain/${did}/${photo.cid}@${fmt}`);
      assert.equal(r.status, 200, `${preset}@${fmt}: ${r.body.toString().slice(0, 200)}`);
      assert.equal(r.headers.get('content-type'), `image/${fmt}`);
      assert.equal(sniff(r.body), fmt, `${preset}@${fmt}: magic bytes`);
      const hd = header(r.body);
      assert.deepEqual([hd.width, hd.height], [w, h], `${preset}@${fmt}: size`);
      assert.ok(!hasExif(r.body), `${preset}@${fmt}: no EXIF/GPS bytes`);
      assert.doesNotMatch(hd.fields, /exif-|gps/i, `${preset}@${fmt}: vipsheader sees no EXIF`);
      assert.match(r.headers.get('cache-control'), /immutable/);
      assert.match(r.headers.get('etag'), /^"[0-9a-f]{64}"$/);
    }
  }
  // The source did have them.
  assert.ok(hasExif(photo.bytes));
  // Without @format: JPEG.
  const plain = await get(`/img/avatar/plain/${did}/${photo.cid}`);
  assert.equal(plain.status, 200);
  assert.equal(sniff(plain.body), 'jpeg');
});

test('/img refuses: unknown preset 400, unreferenced CID 404, unknown DID 404, bad format 400', async () => {
  let r = await get(`/img/huge/plain/${did}/${photo.cid}@jpeg`);
  assert.equal(r.status, 400);
  assert.match(r.json.message, /unknown image preset 'huge'/);
  r = await get(`/img/avatar/plain/${did}/${blobs.unreferenced.cid}@jpeg`);
  assert.equal(r.status, 404);
  assert.equal(r.json.error, 'BlobNotFound');
  r = await get(`/img/avatar/plain/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/${photo.cid}@jpeg`);
  assert.equal(r.status, 404);
  r = await get(`/img/avatar/plain/${did}/${photo.cid}@gif`);
  assert.equal(r.status, 400);
  r = await get(`/img/avatar/signed/${did}/${photo.cid}@jpeg`);
  assert.equal(r.status, 400);
});

test('/blobs/<hash>/image: fit modes, formats, snapping', async () => {
  const cases = [
    ['w=400&h=400&fit=cover', [400, 400]],
    ['w=400&h=400&fit=inside', [400, 300]],
    ['w=400&h=400&fit=contain', [400, 400]],
    ['w=400', [400, 300]],                 // inside by default, height free
    ['h=300&fit=cover', [320, 320]],       // 300 snaps up to 320; cover with one side: a square
    ['w=401&h=401&fit=cover', [480, 480]], // arbitrary sizes snap up the ladder
    ['w=4096&h=4096', [3200, 2400]],       // inside never enlarges
  ];
  for (const [q, [w, h]] of cases) {
    const r = await get(`/blobs/${photo.hash}/image?${q}`);
    assert.equal(r.status, 200, `${q}: ${r.body.toString().slice(0, 200)}`);
    const hd = header(r.body);
    assert.deepEqual([hd.width, hd.height], [w, h], q);
    assert.ok(!hasExif(r.body), `${q}: no EXIF`);
  }
  // contain pads: the letterbox corners are white, the middle is the image.
  const c = await get(`/blobs/${photo.hash}/image?w=400&h=400&fit=contain&format=png`);
  assert.deepEqual(pixel(c.body, 2, 2), [255, 255, 255]);
  assert.notDeepEqual(pixel(c.body, 200, 100), [255, 255, 255]);
  for (const fmt of ['jpeg', 'webp', 'png', 'avif']) {
    const r = await get(`/blobs/${photo.hash}/image?w=256&h=256&fit=cover&format=${fmt}&q=70`);
    assert.equal(r.status, 200, `${fmt}: ${r.body.toString().slice(0, 200)}`);
    assert.equal(sniff(r.body), fmt);
    assert.equal(r.headers.get('content-type'), `image/${fmt}`);
    const hd = header(r.body);
    assert.deepEqual([hd.width, hd.height], [256, 256], fmt);
    assert.ok(!hasExif(r.body), `${fmt}: no EXIF`);
  }
  // PNG and WebP sources work too.
  for (const n of ['png', 'webp']) {
    const r = await get(`/blobs/${blobs[n].hash}/image?w=64&h=64&fit=cover&format=png`);
    assert.equal(r.status, 200);
    assert.deepEqual([header(r.body).width, header(r.body).height], [64, 64]);
  }
  // Bad parameters: 400 naming them.
  for (const q of ['', 'w=0', 'w=4097', 'w=abc', 'fit=fill&w=10', 'format=gif&w=10', 'q=101&w=10', 'w=1&w=2', 'x=1&w=1']) {
    const r = await get(`/blobs/${photo.hash}/image?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error, 'InvalidRequest', q);
  }
  const missing = await get(`/blobs/${'0'.repeat(64)}/image?w=64`);
  assert.equal(missing.status, 404);
});

test('EXIF orientation is applied: a rotated phone photo comes out upright', async () => {
  // Stored 400x200 with top red / bottom blue, Orientation 6 (turn 90 degrees clockwise to view).
  const r = await get(`/blobs/${blobs.rotated.hash}/image?w=4096&h=4096&format=png`);
  assert.equal(r.status, 200);
  const hd = header(r.body);
  assert.deepEqual([hd.width, hd.height], [200, 400], 'portrait once rotated');
  const right = pixel(r.body, 190, 200);
  const left = pixel(r.body, 10, 200);
  assert.ok(right[0] > 150 && right[2] < 100, `the stored top (red) is now on the right: ${right}`);
  assert.ok(left[2] > 150 && left[0] < 100, `the stored bottom (blue) is now on the left: ${left}`);
  assert.ok(!hasExif(r.body));
  const jpeg = await get(`/img/feed_thumbnail/plain/${did}/${blobs.rotated.cid}@jpeg`);
  assert.equal(jpeg.status, 200);
  assert.deepEqual([header(jpeg.body).width, header(jpeg.body).height], [200, 400]);
  assert.ok(!hasExif(jpeg.body), 'no Orientation tag left to rotate it twice');
});

test('cache: ETag and 304, hits, one render for concurrent requests, kept across restarts', async () => {
  const url = `/blobs/${photo.hash}/image?w=192&h=192&fit=cover&format=webp`;
  const many = await Promise.all(Array.from({ length: 6 }, () => get(url)));
  const origins = many.map((r) => r.headers.get('x-image-cache')).sort();
  assert.equal(origins.filter((o) => o === 'miss').length, 1, `one render: ${origins}`);
  for (const r of many) {
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(many[0].body), 'every answer the same bytes');
  }
  const again = await get(url);
  assert.equal(again.headers.get('x-image-cache'), 'hit');
  const etag = again.headers.get('etag');
  const nm = await get(url, { 'if-none-match': etag });
  assert.equal(nm.status, 304);
  // A restart keeps the cache (DATA/image-cache).
  const dir = srv.dir;
  const files = fs.readdirSync(path.join(dir, 'image-cache'), { recursive: true });
  assert.ok(files.some((f) => /[0-9a-f]{64}$/.test(f)), 'entries on disk');
  assert.ok(!files.some((f) => f.endsWith('.tmp')), 'no temporaries left');
});

test('hostile inputs: bomb 400 quickly without memory growth, truncated 400, non-image 415', async () => {
  const bomb = await put('bomb', pngBomb(), 'image/png');
  assert.ok(bomb.bytes.length < 1000, `the bomb is ${bomb.bytes.length} bytes`);
  const rss = () => Number(fs.readFileSync(`/proc/${srv.child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
  const before = rss();
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) {
    const r = await get(`/blobs/${bomb.hash}/image?w=100&q=${50 + i * 5}`);
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'ImageTooLarge');
    assert.match(r.json.message, /50000x50000/);
  }
  assert.ok(Date.now() - t0 < 3000, `refused in ${Date.now() - t0} ms`);
  assert.ok(rss() - before < 50 * 1024, `RSS grew ${rss() - before} KiB`);

  const whole = convert(twoTone(800, 600), 'trunc.jpg');
  const truncated = await put('truncated', whole.subarray(0, Math.floor(whole.length / 2)), 'image/jpeg');
  let r = await get(`/blobs/${truncated.hash}/image?w=100`);
  assert.equal(r.status, 400, r.body.toString());
  assert.equal(r.json.error, 'InvalidImage');

  const text = await put('text', Buffer.from('just some text, not an image\n'.repeat(20)), 'text/plain');
  r = await get(`/blobs/${text.hash}/image?w=100`);
  assert.equal(r.status, 415);
  // Bytes that claim to be a JPEG but are noise: libvips refuses them.
  const noise = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(4000)]);
  const fake = await put('noise', noise, 'image/jpeg');
  r = await get(`/blobs/${fake.hash}/image?w=100`);
  assert.ok([400, 415].includes(r.status), `noise: ${r.status}`);
  // The server is still fine.
  r = await get(`/blobs/${photo.hash}/image?w=64`);
  assert.equal(r.status, 200);
});

test('renders never stall blob downloads or cache hits', async () => {
  const hitUrl = `/blobs/${photo.hash}/image?w=64&h=64&fit=cover`;
  assert.equal((await get(hitUrl)).status, 200);
  // Four slow renders (full-size AVIF) for the two image workers.
  const t0 = Date.now();
  const slow = [50, 55, 60, 65].map((q) => get(`/blobs/${photo.hash}/image?w=4096&h=4096&format=avif&q=${q}`)
    .then((r) => ({ status: r.status, ms: Date.now() - t0 })));
  await new Promise((r) => setTimeout(r, 200));  // the renders are under way
  const t1 = Date.now();
  const blob = await get(`/blobs/${blobs.png.hash}`);
  const blobMs = Date.now() - t1;
  const t2 = Date.now();
  const hit = await get(hitUrl);
  const hitMs = Date.now() - t2;
  const done = await Promise.all(slow);
  assert.equal(blob.status, 200);
  assert.equal(hit.status, 200);
  assert.equal(hit.headers.get('x-image-cache'), 'hit');
  for (const d of done) assert.equal(d.status, 200);
  const last = Math.max(...done.map((d) => d.ms));
  // Not queued behind the renders: done well before the last of them.
  assert.ok(blobMs < 2000 && blobMs < last / 2, `blob GET took ${blobMs} ms while renders took ${last} ms`);
  assert.ok(hitMs < 2000 && hitMs < last / 2, `cache hit took ${hitMs} ms while renders took ${last} ms`);
});

test('limits: image_max_pixels, image_timeout; blobs_public=false needs a token', async () => {
  const s2 = await startServer({ BLOBSYNC_IMAGE_MAX_PIXELS: '1000000', BLOBSYNC_IMAGE_TIMEOUT: '1ms',
    BLOBSYNC_BLOBS_PUBLIC: 'false' });
  try {
    const a = new AtpAgent({ service: s2.base });
    const handle = `lim${crypto.randomBytes(3).toString('hex')}.test`;
    await a.createAccount({ handle, email: `${handle}@example.com`, password: 'correct horse' });
    const big = await a.uploadBlob(photo.bytes, { encoding: 'image/jpeg' });
    const smallBytes = convert(twoTone(900, 900), 'mid.jpg');
    await a.uploadBlob(smallBytes, { encoding: 'image/jpeg' });
    await a.post({ text: 'x', createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images',
      images: [{ alt: 'a', image: big.data.blob }] } });
    const h = (b) => crypto.createHash('sha256').update(b).digest('hex');
    const auth = { authorization: `Bearer ${a.session.accessJwt}` };
    let r = await fetch(`${s2.base}/blobs/${h(photo.bytes)}/image?w=64`);
    assert.equal(r.status, 401, 'blobs_public=false: a token is needed');
    r = await fetch(`${s2.base}/blobs/${h(photo.bytes)}/image?w=64`, { headers: auth });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error, 'ImageTooLarge', '7.7 MP over a 1 MP limit');
    // /img follows getBlob's rule (the record), not blobs_public.
    r = await fetch(`${s2.base}/img/avatar/plain/${a.session.did}/${big.data.blob.ref}@jpeg`);
    assert.equal(r.status, 400);
    await a.post({ text: 'y', createdAt: new Date().toISOString(), embed: { $type: 'app.bsky.embed.images',
      images: [{ alt: 'b', image: (await a.uploadBlob(smallBytes, { encoding: 'image/jpeg' })).data.blob }] } });
    r = await fetch(`${s2.base}/blobs/${h(smallBytes)}/image?w=4096&format=png`, { headers: auth });
    const body = await r.json();
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'ImageTooComplex', 'a 1 ms time limit kills the render');
  } finally {
    assert.equal(await s2.stop(), 0);
  }
});

test('the cache survives a restart and stays bounded', async () => {
  const url = `/blobs/${photo.hash}/image?w=96&h=96&fit=cover`;
  assert.equal((await get(url)).status, 200);
  const dir = srv.dir;
  assert.equal(await srv.stop(), 0);
  srv = await startServer({ BLOBSYNC_IMAGE_CACHE_BYTES: '40k' }, [], { dir });
  const r = await get(url);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-image-cache'), 'hit', 'rendered before the restart');
  for (const s of [128, 160, 256, 320, 400, 480]) {
    assert.equal((await get(`/blobs/${photo.hash}/image?w=${s}&h=${s}&fit=cover`)).status, 200);
  }
  let total = 0;
  const root = path.join(dir, 'image-cache');
  for (const f of fs.readdirSync(root, { recursive: true })) {
    const st = fs.statSync(path.join(root, f));
    if (st.isFile()) total += st.size;
  }
  assert.ok(total <= 40 * 1024, `cache holds ${total} bytes, bound 40 KiB`);
});
