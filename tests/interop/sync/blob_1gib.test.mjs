// An interrupted large upload (1 GiB by default; BLOB_SIZE=bytes for a
// smaller run) resumes asking only for the missing chunks, downloads back
// verified, and the server's peak RSS (VmHWM) stays under 128 MiB.
// The blob is generated chunk by chunk, never held in memory.
import fs from 'node:fs'
import { Server, until, assert, main, tmpDir } from './harness.mjs'
import { BlobClient, generatedBlob, chunkCount } from './blobclient.mjs'

const SIZE = Number(process.env.BLOB_SIZE || 1024 * 1024 * 1024)
const LIMIT_KB = 128 * 1024

function vmHWM (pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)
  return Number(m[1])
}

main(`blob resume: ${SIZE} bytes, server VmHWM < 128 MiB`, async servers => {
  const server = await new Server(tmpDir('big'), ['--max-blob-bytes', String(2 * SIZE)]).start()
  servers.push(server)
  const blob = generatedBlob(SIZE, 42)
  const n = chunkCount(SIZE)
  const c1 = await BlobClient.connect(server.url, 'big')
  const stopAt = Math.floor(n * 0.4)
  const first = await c1.upload(blob, { stopAfter: stopAt })
  assert(first.interrupted, 'first attempt interrupted')
  let second
  await until(async () => {
    const c2 = await BlobClient.connect(server.url, 'big')
    try { second = await c2.upload(blob); c2.close(); return true } catch (e) { c2.close(); if (e.code !== 'BUSY') throw e; return false }
  }, 'resumed upload accepted', 600000)
  const missing = second.wants[0].missing.reduce((k, [, count]) => k + count, 0)
  assert(missing >= n - stopAt && missing < n, `resume asked only for missing chunks (${missing} of ${n})`)
  assert(second.sent === missing, 'resume sent only the missing chunks')
  const c3 = await BlobClient.connect(server.url, 'big')
  const back = await c3.download(blob.hash, { onChunk: () => {} })
  assert(back.chunks === n && back.meta.size === SIZE, 'downloaded whole, every chunk and the blob hash verified')
  c3.close()
  const hwm = vmHWM(server.pid())
  console.log(`server VmHWM ${(hwm / 1024).toFixed(1)} MiB after ${SIZE} bytes up (resumed) and down`)
  assert(hwm < LIMIT_KB, `server VmHWM ${hwm} kB < 128 MiB`)
})
