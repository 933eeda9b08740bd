// yjs on the same workload as bench/crdt_bench.cpp (run with --expose-gc).
import { createRequire } from 'node:module'
import fs from 'node:fs'
import zlib from 'node:zlib'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, '../tests/package.json'))
const Y = require('yjs')
const args = process.argv.slice(2)
const arg = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d }
const tracePath = arg('--trace', '/work/shared/data/editing-traces/automerge-paper.json.gz')
const rounds = Number(arg('--rounds', '3'))
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(tracePath)))
const gc = () => { if (global.gc) { global.gc(); global.gc() } }

let replayMs = Infinity; let mem = 0; let updateBytes = 0; let v1; let v2
for (let r = 0; r < rounds; r++) {
  gc()
  const before = process.memoryUsage().heapUsed
  const doc = new Y.Doc()
  doc.clientID = 300000000
  const text = doc.getText('text')
  let ub = 0
  doc.on('update', u => { ub += u.length })
  const start = performance.now()
  for (const txn of trace.txns) for (const [pos, del, ins] of txn.patches) { if (del > 0) text.delete(pos, del); if (ins) text.insert(pos, ins) }
  replayMs = Math.min(replayMs, performance.now() - start)
  gc()
  mem = Math.max(mem, process.memoryUsage().heapUsed - before)
  if (process.env.CRDT_BENCH_DEBUG) console.error("round", r, "heap delta", process.memoryUsage().heapUsed - before, "before", before)
  updateBytes = ub
  if (text.toString() !== trace.endContent) { console.error('yjs replay produced the wrong text'); process.exit(1) }
  v1 = Y.encodeStateAsUpdate(doc); v2 = Y.encodeStateAsUpdateV2(doc)
}
const doc = new Y.Doc(); Y.applyUpdate(doc, v1)
const n = 20
let s = performance.now(); for (let i = 0; i < n; i++) Y.encodeStateAsUpdate(doc); const encodeMs = (performance.now() - s) / n
s = performance.now(); for (let i = 0; i < n; i++) Y.encodeStateAsUpdateV2(doc); const encodeV2Ms = (performance.now() - s) / n
let loadMs = Infinity; let loadV2Ms = Infinity
for (let i = 0; i < n; i++) { const d = new Y.Doc(); const t = performance.now(); Y.applyUpdate(d, v1); d.getText('text'); loadMs = Math.min(loadMs, performance.now() - t) }
for (let i = 0; i < n; i++) { const d = new Y.Doc(); const t = performance.now(); Y.applyUpdateV2(d, v2); loadV2Ms = Math.min(loadV2Ms, performance.now() - t) }
console.log(JSON.stringify({ impl: 'yjs', ops: trace.txns.length, replay_ms: +replayMs.toFixed(1), update_bytes: updateBytes, encode_v1_ms: +encodeMs.toFixed(2), encode_v2_ms: +encodeV2Ms.toFixed(2), load_v1_ms: +loadMs.toFixed(2), load_v2_ms: +loadV2Ms.toFixed(2), doc_heap_bytes: mem, peak_rss_kb: Math.round(process.resourceUsage().maxRSS), v1_bytes: v1.length, v2_bytes: v2.length }))
