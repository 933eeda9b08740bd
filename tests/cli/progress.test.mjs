// The progress bar (src/cli/progress.cpp) of `blobsync get`: drawn on stderr
// only when it is a terminal (here a pseudo-terminal from util-linux
// `script`) and the blob is 8 MiB or more; it ends at 100% on its own line.
// Piped, or for a small blob, stderr stays empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.BLOBSYNC_BIN;
assert.ok(BIN, 'BLOBSYNC_BIN must name the blobsync binary');
const hasScript = spawnSync('script', ['--version']).status === 0;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-progress-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const data = path.join(tmp, 'data');

function put(size) {
  const file = path.join(tmp, `in-${size}`);
  const bytes = crypto.randomBytes(size);
  fs.writeFileSync(file, bytes);
  const r = spawnSync(BIN, ['--data', data, 'put', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

// Runs `blobsync get` with its stdin, stdout and stderr on a pseudo-terminal;
// returns what the terminal showed.
function getOnATerminal(hex, out) {
  const cmd = [BIN, '--data', data, 'get', hex, '-o', out].join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

test('a large blob on a terminal: a bar that ends at 100% on its own line', { skip: !hasScript && 'no script(1)' }, () => {
  const hex = put(9 << 20);
  const shown = getOnATerminal(hex, path.join(tmp, 'big.out'));
  assert.match(shown, /\rsha256:[0-9a-f]{12} \[#{30}\] 100% 9\.0 MiB \d+ MiB\/s \r?\n/, JSON.stringify(shown));
  assert.equal(fs.statSync(path.join(tmp, 'big.out')).size, 9 << 20);
});

test('a small blob on a terminal: no bar', { skip: !hasScript && 'no script(1)' }, () => {
  const hex = put(1 << 20);
  const shown = getOnATerminal(hex, path.join(tmp, 'small.out'));
  assert.doesNotMatch(shown, /MiB\/s/, JSON.stringify(shown));
});

test('stderr not a terminal: no bar', () => {
  const hex = put(9 << 20);
  const r = spawnSync(BIN, ['--data', data, 'get', hex, '-o', path.join(tmp, 'piped.out')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});
