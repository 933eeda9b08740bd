#!/usr/bin/env bash
# blobsync::crdt vs yjs 13.6 on automerge-paper (B4), same machine, same run:
# replay with an update event per op, encode, load (parse), document heap.
# Goals: replay >= 3x faster, load >= 2x faster, heap <= yjs.
# Usage: bench/crdt.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
cmake --build "$BUILD" --target crdt_bench >/dev/null
read -r load1 _ < /proc/loadavg
echo "# blobsync::crdt vs yjs $(node -p "require('./tests/node_modules/yjs/package.json').version"), node $(node --version), $(nproc) cores, load $load1"
CPP=$("$BUILD/bench/crdt_bench" --rounds 3)
JS=$(node --expose-gc bench/crdt_bench.mjs --rounds 3)
echo "$CPP"
echo "$JS"
node -e '
const c = JSON.parse(process.argv[1]), j = JSON.parse(process.argv[2])
const row = (name, a, b, goal) => console.log(`${name.padEnd(28)} blobsync ${String(a).padStart(12)}  yjs ${String(b).padStart(12)}  ratio ${(b / a).toFixed(2)}x${goal ? "  (goal " + goal + ")" : ""}`)
row("replay (ms, lower better)", c.replay_ms, j.replay_ms, ">= 3x")
row("encode v1 (ms)", c.encode_v1_ms, j.encode_v1_ms)
row("encode v2 (ms)", c.encode_v2_ms, j.encode_v2_ms)
row("load v1 (ms)", c.load_v1_ms, j.load_v1_ms, ">= 2x")
row("load v2 (ms)", c.load_v2_ms, j.load_v2_ms)
console.log(`${"doc heap (bytes)".padEnd(28)} blobsync ${String(c.doc_heap_bytes).padStart(12)}  yjs ${String(j.doc_heap_bytes).padStart(12)}  blobsync/yjs ${(c.doc_heap_bytes / j.doc_heap_bytes).toFixed(2)}  (goal <= 1)`)
console.log(`${"peak RSS (kB, process)".padEnd(28)} blobsync ${String(c.peak_rss_kb).padStart(12)}  yjs ${String(j.peak_rss_kb).padStart(12)}`)
if (c.v1_bytes !== j.v1_bytes || c.v2_bytes !== j.v2_bytes) { console.log("MISMATCH: encoded sizes differ"); process.exit(1) }
console.log(`encoded sizes identical: v1 ${c.v1_bytes} B, v2 ${c.v2_bytes} B`)
' "$CPP" "$JS"
