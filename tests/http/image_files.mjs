// Test images made on the spot: real ones through the `vips` CLI
// (libvips-tools) and hostile ones (bombs, truncated files) byte by byte.
// Helpers only (no test of their own): the assertions are in images.test.mjs;
// a helper that cannot make its file throws.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-img-'));
export function cleanup() { fs.rmSync(tmp, { recursive: true, force: true }); }

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

// A binary PPM (P6) w x h, each pixel from fn(x, y) -> [r, g, b].
function ppm(w, h, fn) {
  const head = Buffer.from(`P6\n${w} ${h}\n255\n`);
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(fn(x, y), (y * w + x) * 3);
  return Buffer.concat([head, px]);
}

// Converts `ppmBytes` with `vips copy` to `name` (its suffix picks the format, options in [..]).
export function convert(ppmBytes, name) {
  const src = path.join(tmp, `${name}.ppm`);
  const out = path.join(tmp, name.replace(/\[.*\]$/, ''));
  fs.writeFileSync(src, ppmBytes);
  run('vips', ['copy', src, path.join(tmp, name)]);
  return fs.readFileSync(out);
}

// A w x h image, top half red and bottom half blue, with a gradient so encoders have work to do.
export function twoTone(w, h) {
  return ppm(w, h, (x, y) => (y < h / 2 ? [220, (x * 7) & 63, 30] : [30, (y * 5) & 63, 220]));
}

// EXIF (APP1) holding Orientation and a GPS position, put after the JPEG's
// JFIF header: what a phone camera writes, and what must never be served.
export function withExif(jpeg, orientation) {
  const entries0 = [[0x0112, 3, 1, orientation], [0x8825, 4, 1, 0 /* GPS IFD offset, patched */]];
  const ifd0Size = 2 + entries0.length * 12 + 4;
  const gpsOffset = 8 + ifd0Size;
  const gpsEntries = [[0x0001, 2, 2, 'N'], [0x0002, 5, 3, 0 /* offset of 3 rationals */]];
  const gpsSize = 2 + gpsEntries.length * 12 + 4;
  const ratOffset = gpsOffset + gpsSize;
  const tiff = Buffer.alloc(ratOffset + 24);
  tiff.write('II', 0, 'latin1');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  const writeIfd = (at, list) => {
    tiff.writeUInt16LE(list.length, at);
    list.forEach(([tag, type, count, value], i) => {
      const e = at + 2 + i * 12;
      tiff.writeUInt16LE(tag, e);
      tiff.writeUInt16LE(type, e + 2);
      tiff.writeUInt32LE(count, e + 4);
      if (type === 2) tiff.write(value + '\0', e + 8, 'latin1');
      else if (type === 3) tiff.writeUInt16LE(value, e + 8);
      else tiff.writeUInt32LE(value, e + 8);
    });
    tiff.writeUInt32LE(0, at + 2 + list.length * 12);
  };
  entries0[1][3] = gpsOffset;
  gpsEntries[1][3] = ratOffset;
  writeIfd(8, entries0);
  writeIfd(gpsOffset, gpsEntries);
  [[48, 1], [51, 1], [1234, 100]].forEach(([n, d], i) => {  // 48 deg 51' 12.34"
    tiff.writeUInt32LE(n, ratOffset + i * 8);
    tiff.writeUInt32LE(d, ratOffset + i * 8 + 4);
  });
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(payload.length + 2, 2);
  let at = 2;  // after SOI, and after APP0 (JFIF) when there is one
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + jpeg.readUInt16BE(4);
  return Buffer.concat([jpeg.subarray(0, at), app1, payload, jpeg.subarray(at)]);
}

function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32 ? zlib.crc32(body) : crc32(body));
  return Buffer.concat([len, body, crc]);
}
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return (~c) >>> 0;
}

// A PNG of a few hundred bytes whose header declares w x h RGB pixels.
export function pngBomb(w = 50000, h = 50000) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2;  // 8 bits, RGB
  const idat = zlib.deflateSync(Buffer.alloc(w * 3 + 1));  // one row of zeros
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

// `vipsheader` on bytes: { width, height, loader }.
export function header(bytes) {
  const f = path.join(tmp, `probe-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(f, bytes);
  const w = Number(run('vipsheader', ['-f', 'width', f]).trim());
  const h = Number(run('vipsheader', ['-f', 'height', f]).trim());
  const all = run('vipsheader', ['-a', f]);
  const loader = (all.match(/vips-loader: (\w+)/) || [])[1];
  fs.rmSync(f);
  return { width: w, height: h, loader, fields: all };
}

// The [r, g, b] at (x, y) of an image's bytes (`vips getpoint`).
export function pixel(bytes, x, y) {
  const f = path.join(tmp, `px-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(f, bytes);
  const out = run('vips', ['getpoint', f, String(x), String(y)]).trim().split(/\s+/).map(Number);
  fs.rmSync(f);
  return out;
}

// Magic bytes of the formats served.
export function sniff(b) {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  if (b.subarray(4, 12).toString('latin1') === 'ftypavif') return 'avif';
  return 'unknown';
}

// Whether bytes carry EXIF or GPS metadata in any container.
export function hasExif(b) {
  const s = b.toString('latin1');
  return s.includes('Exif\0') || s.includes('eXIf') || s.includes('EXIF') || s.includes('GPS');
}
