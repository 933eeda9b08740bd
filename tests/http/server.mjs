// Test helper: starts the real `blobsync serve` binary ($BLOBSYNC_BIN) on a
// free loopback port with a fresh data directory.
//
// BLOBSYNC_TEST_METADATA=postgresql puts each server's metadata in a fresh
// database on the PostgreSQL server at $BLOBSYNC_TEST_PG_URL (started by
// tests/pg/pg_tmp.sh run); unset, metadata is SQLite in the data dir.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import crypto from 'node:crypto';

export const BIN = process.env.BLOBSYNC_BIN;
if (!BIN) throw new Error('BLOBSYNC_BIN is not set (run through ctest)');

export const SECRET = 'test-secret-0123456789abcdef0123';
export const USE_PG = process.env.BLOBSYNC_TEST_METADATA === 'postgresql';

// The metadata URL each data dir was started with ('' = SQLite in the dir).
const metadataOf = new Map();

// A new empty database on the test PostgreSQL server; returns its URL.
let dbCounter = 0;
export function freshPgDatabase() {
  const base = process.env.BLOBSYNC_TEST_PG_URL;
  if (!base) throw new Error('BLOBSYNC_TEST_METADATA=postgresql needs BLOBSYNC_TEST_PG_URL (run through tests/pg/pg_tmp.sh)');
  const name = `h${process.pid}_${++dbCounter}`;
  const r = spawnSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`createdb failed: ${r.stderr || r.error}`);
  return base.slice(0, base.lastIndexOf('/') + 1) + name;
}

// Runs SQL on a metadata database (PostgreSQL URL or SQLite data dir); rows as arrays of strings.
export function sql(metadata, dir, query) {
  const r = metadata
    ? spawnSync('psql', [metadata, '-v', 'ON_ERROR_STOP=1', '-AtF', '\t', '-c', query], { encoding: 'utf8' })
    : spawnSync('sqlite3', ['-separator', '\t', path.join(dir, 'meta.db'), query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sql failed: ${r.stderr || r.error}`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// `dir`: reuse a data dir (several servers sharing one); `metadata`: reuse a database.
export async function startServer(env = {}, extraArgs = [], { dir: sharedDir, metadata } = {}) {
  const dir = sharedDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-http-'));
  if (metadata === undefined) metadata = metadataOf.get(dir) ?? (USE_PG ? freshPgDatabase() : '');
  metadataOf.set(dir, metadata);
  const child = spawn(BIN, ['--data', dir, 'serve', '--listen', '127.0.0.1:0', ...extraArgs], {
    // Every test client is on loopback, one address: tests create more accounts than
    // create_account_rate_address allows (http.login tests it with its own value).
    env: { ...process.env, BLOBSYNC_JWT_SECRET: SECRET, BLOBSYNC_ACCESS_LOG: 'off', BLOBSYNC_GC_INTERVAL: '0',
      BLOBSYNC_CREATE_ACCOUNT_RATE_ADDRESS: 'off', BLOBSYNC_METADATA: metadata, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const addr = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on ([\d.]+):(\d+)/);
      if (m) resolve({ host: m[1], port: Number(m[2]) });
    });
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${stderr}`)));
  });
  const base = `http://${addr.host}:${addr.port}`;
  return {
    dir, base, host: addr.host, port: addr.port, child, metadata,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const code = await exited;
      if (!sharedDir) fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

// `blobsync gc` on the server's data dir: the summary line, with the
// blobs collected (or, dry run, that would be) as `collected`.
export function runGc(dir, grace = '0', { dryRun = false } = {}) {
  const args = ['--data', dir, 'gc', '--grace', grace, ...(dryRun ? ['--dry-run'] : [])];
  const r = spawnSync(BIN, args, {
    env: { ...process.env, BLOBSYNC_JWT_SECRET: SECRET, BLOBSYNC_METADATA: metadataOf.get(dir) ?? '' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`gc failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').filter((l) => l !== '');
  const summary = JSON.parse(lines.pop());
  summary.collected = lines.map((l) => JSON.parse(l));
  return summary;
}

// Committed blob files in the store (temp files excluded).
export function storedBlobFiles(dir) {
  const root = path.join(dir, 'blobs');
  const out = [];
  if (!fs.existsSync(root)) return out;
  for (const shard of fs.readdirSync(root)) {
    if (shard === 'tmp') continue;
    const p = path.join(root, shard);
    if (!fs.statSync(p).isDirectory()) continue;
    for (const f of fs.readdirSync(p)) out.push(f);
  }
  return out;
}

// Files in the store's temp directory that are not lock files.
export function tempFiles(dir) {
  const p = path.join(dir, 'blobs', 'tmp');
  if (!fs.existsSync(p)) return [];
  return fs.readdirSync(p).filter((f) => !f.endsWith('.lock'));
}

export async function xrpc(base, method, nsid, { token, body, query, headers = {} } = {}) {
  const url = new URL(`/xrpc/${nsid}`, base);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    if (body instanceof Uint8Array || typeof body === 'string') payload = body;
    else { payload = JSON.stringify(body); h['content-type'] ??= 'application/json'; }
  }
  const res = await fetch(url, { method, headers: h, body: payload });
  const buf = Buffer.from(await res.arrayBuffer());
  let json = null;
  try { json = JSON.parse(buf.toString()); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, body: buf };
}

let counter = 0;
export async function createAccount(base, name) {
  const handle = `${name}${++counter}${crypto.randomBytes(2).toString('hex')}.test`;
  const r = await xrpc(base, 'POST', 'com.atproto.server.createAccount',
    { body: { handle, email: `${handle}@example.com`, password: 'hunter2' } });
  if (r.status !== 200) throw new Error(`createAccount: ${r.status} ${r.body}`);
  return r.json;
}

// Sends raw bytes on a new TCP connection; resolves with everything the server
// sent until it closed (or `waitMs` of silence after the last byte).
export function rawRequest(port, chunks, { halfClose = false, waitMs = 3000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let timer;
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(data.toString('latin1')); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(done, waitMs); };
    sock.on('data', (d) => { data = Buffer.concat([data, d]); arm(); });
    sock.on('end', done);
    sock.on('error', done);
    sock.on('connect', async () => {
      for (const c of chunks) sock.write(c);
      if (halfClose) sock.end();
      arm();
    });
  });
}

export function statusOf(raw) {
  const m = raw.match(/^HTTP\/1\.1 (\d{3})/);
  return m ? Number(m[1]) : null;
}
export function bodyOf(raw) {
  const i = raw.indexOf('\r\n\r\n');
  return i < 0 ? '' : raw.slice(i + 4);
}

// Small valid media files, generated here.
export function pngBytes() {
  // 1x1 RGBA PNG.
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
  const zlib = Buffer.from([0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', zlib), chunk('IEND', Buffer.alloc(0))]);
}
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return crc ^ 0xffffffff;
}
export function jpegBytes() {
  // A minimal JFIF header followed by filler and EOI: enough for libmagic.
  const head = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00,
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  return Buffer.concat([head, crypto.randomBytes(200), Buffer.from([0xff, 0xd9])]);
}
export function mp4Bytes() {
  // ftyp box (isom) + an empty mdat box.
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.from([0, 0, 2, 0]),
    Buffer.from('isomiso2')]);
  const mdat = Buffer.concat([Buffer.from([0, 0, 0, 0x10]), Buffer.from('mdat'), crypto.randomBytes(8)]);
  return Buffer.concat([ftyp, mdat]);
}
export function elfBytes() {
  const b = Buffer.alloc(4096);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(b, 0);
  b.writeUInt16LE(2, 16);      // ET_EXEC
  b.writeUInt16LE(0x3e, 18);   // x86-64
  b.writeUInt32LE(1, 20);      // version
  return b;
}

export function cidOfBytes(bytes) {
  const digest = crypto.createHash('sha256').update(bytes).digest();
  return { hex: digest.toString('hex'), digest };
}
