// Our CIDs must equal what the `multiformats` npm package computes for the same
// bytes (CIDv1, raw codec, sha2-256, base32).
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';

const tool = process.argv[2];
const inputs = ['a', 'hello world', 'blobsync', 'x'.repeat(1000), 'ünïcødé ✓ 🎉'];
const out = execFileSync(tool, inputs, { encoding: 'utf8' }).trim().split('\n');
assert.equal(out.length, inputs.length);
for (let i = 0; i < inputs.length; i++) {
  const bytes = new TextEncoder().encode(inputs[i]);
  const hash = await sha256.digest(bytes);
  const cid = CID.create(1, raw.code, hash).toString();
  const hex = Buffer.from(hash.digest).toString('hex');
  const [ourRef, ourCid] = out[i].split(' ');
  assert.equal(ourCid, cid, `CID for input ${i}`);
  assert.equal(ourRef, `sha256:${hex}`, `hash ref for input ${i}`);
  // And parse back: the multiformats parser accepts our string.
  assert.equal(CID.parse(ourCid).toString(), cid);
}
console.log(`${inputs.length} passed, 0 failed`);
