// TLS configuration errors stop `blobsync serve` at start with exit code 2
// and a message naming the key and the file: a missing file, a file that is
// not PEM, a key that does not match the certificate, one key without the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from '../http/server.mjs';
import { cert, CERTS } from './tls.mjs';

function serve(args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-tls-start-'));
  const r = spawnSync(BIN, ['--data', dir, 'serve', '--listen', '127.0.0.1:0', ...args],
    { encoding: 'utf8', timeout: 20000, env: { ...process.env, BLOBSYNC_ACCESS_LOG: 'off' } });
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

test('a missing certificate or key file', () => {
  let r = serve(['--tls-cert', cert('nope.pem'), '--tls-key', cert('server.key')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tls_cert.*nope\.pem.*No such file/);
  r = serve(['--tls-cert', cert('server.pem'), '--tls-key', cert('nope.key')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tls_key.*nope\.key/);
});

test('a file that is not PEM', () => {
  const junk = path.join(CERTS, 'junk.pem');
  fs.writeFileSync(junk, 'not a certificate\n');
  let r = serve(['--tls-cert', junk, '--tls-key', cert('server.key')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tls_cert.*junk\.pem.*not a usable PEM certificate/);
  r = serve(['--tls-cert', cert('server.pem'), '--tls-key', junk]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tls_key.*junk\.pem.*not a usable PEM private key/);
});

test('a key that does not match the certificate', () => {
  const r = serve(['--tls-cert', cert('server.pem'), '--tls-key', cert('server2.key')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tls_key.*server2\.key.*does not match the certificate/);
});

test('tls_cert without tls_key (and the other way round)', () => {
  let r = serve(['--tls-cert', cert('server.pem')]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /tls_cert and tls_key go together/);
  r = serve(['--tls-key', cert('server.key')]);
  assert.equal(r.status, 2, r.stderr);
});
