// bench/js.sh's Node side: times @blobsync/client's putBlob and getBlob of a
// file against a running server, or reports peak RSS for a large one.
//   node bench/js_bench.mjs time FILE URL ROOM   -> {"put_s":..,"get_s":..,"hash":..}
//     putBlob of the file read into one Buffer (fresh cache), then getBlob of
//     it by a second provider with another fresh cache (every chunk crosses
//     the socket, is verified and written to the cache).
//   node bench/js_bench.mjs rss FILE URL ROOM    -> {"put_s":..,"get_s":..,"max_rss_mib":..}
//     the same from a file-backed Blob (fs.openAsBlob, Node >= 19.8; else a
//     ReadableStream, and getBlobStream for the get), never the whole file in
//     memory; peak RSS of this process.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const js = path.join(repo, 'clients/js')
const WebSocket = createRequire(path.join(js, 'package.json'))('ws')
const { createBlobSyncProvider } = await import(path.join(js, 'dist/node.js'))
const Y = await import(createRequire(path.join(js, 'package.json')).resolve('yjs').replace(/yjs\.cjs$/, 'yjs.mjs'))

// A file as a ReadableStream that reads only when pulled (1 MiB at a time).
function pullStream (file) {
  let fh = null
  return new ReadableStream({
    async pull (c) {
      fh ??= await fs.promises.open(file)
      const buf = new Uint8Array(1 << 20)
      const { bytesRead } = await fh.read(buf, 0, buf.length, null)
      if (bytesRead === 0) { await fh.close(); c.close() } else c.enqueue(buf.subarray(0, bytesRead))
    }
  }, { highWaterMark: 1 })
}

const [mode, file, url, room] = process.argv.slice(2)
const caches = []
function provider () {
  const cacheDir = fs.mkdtempSync(path.join(process.env.BENCH_TMP || os.tmpdir(), 'blobsync-jsbench-'))
  caches.push(cacheDir)
  return createBlobSyncProvider({ url, room, doc: new Y.Doc(), cacheDir, WebSocketPolyfill: WebSocket })
}

const up = provider()
await up.whenSynced
let data
if (mode === 'time') data = fs.readFileSync(file)
else if (typeof fs.openAsBlob === 'function') data = await fs.openAsBlob(file)
else data = pullStream(file) // not Readable.toWeb: Node 18's reads ahead without bound
let t0 = performance.now()
const ref = await up.putBlob(data)
const put = (performance.now() - t0) / 1000
data = null

const down = provider()
await down.whenSynced
t0 = performance.now()
let got = 0
if (mode === 'rss' && typeof fs.openAsBlob !== 'function') {
  // Node < 19.8 has no file-backed Blob (getBlob would assemble one in memory): the stream.
  for await (const piece of await down.getBlobStream(ref.hash)) got += piece.length
} else {
  got = (await down.getBlob(ref.hash))?.size ?? -1
}
const get = (performance.now() - t0) / 1000
if (got !== ref.size) throw new Error(`getBlob returned ${got} bytes of ${ref.size}`)
up.destroy()
down.destroy()
for (const d of caches) fs.rmSync(d, { recursive: true, force: true })
const out = { put_s: +put.toFixed(3), get_s: +get.toFixed(3), hash: ref.hash }
if (mode === 'rss') out.max_rss_mib = Math.round(process.resourceUsage().maxRSS / 1024)
console.log(JSON.stringify(out))
process.exit(0)
