// The C++ client end of "an interrupted 1 GiB transfer resumes; both ends
// stay under 128 MiB RSS": `blobsync get --server` of a 1 GiB blob (BLOB_SIZE
// bytes for a smaller run) is interrupted by SIGKILLing the server
// mid-transfer; the client gives up with a resumable partial; a second `get`
// against the restarted server resumes (it says how many bytes it already
// has; the REQUEST then asks only for the chunks after those) and writes
// the verified blob. The peak RSS
// (VmHWM, sampled from /proc while it runs) of both client runs and of the
// server stays under 128 MiB.
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Server, until, assert, main, tmpDir } from '../sync/harness.mjs'
import { BlobClient, generatedBlob, hashRef } from '../sync/blobclient.mjs'

const cli = process.argv[2]
const SIZE = Number(process.env.BLOB_SIZE || 1024 * 1024 * 1024)
const LIMIT_KB = 128 * 1024

function procField (pid, file, re) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').match(re)
    return m ? Number(m[1]) : 0
  } catch { return 0 }  // exited
}
const vmHWM = pid => procField(pid, 'status', /VmHWM:\s+(\d+) kB/)
const wchar = pid => procField(pid, 'io', /wchar:\s+(\d+)/)  // file writes (not sockets)

// Runs `blobsync get`, sampling its VmHWM and bytes written while it runs.
// onSample(stats) may act (e.g. kill the server) while the client runs.
function get (args, onSample = () => {}) {
  return new Promise(resolve => {
    const p = spawn(cli, ['get', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const stats = { hwm: 0, written: 0, err: '' }
    p.stderr.on('data', d => { stats.err += d })
    p.stdout.resume()
    const timer = setInterval(() => {
      stats.hwm = Math.max(stats.hwm, vmHWM(p.pid))
      stats.written = Math.max(stats.written, wchar(p.pid))  // store ingest + partial file
      onSample(stats)
    }, 20)
    p.on('close', code => { clearInterval(timer); stats.code = code; resolve(stats) })
  })
}

main(`C++ client get: ${SIZE} bytes, interrupted by a server kill, resumed; client and server VmHWM < 128 MiB`, async servers => {
  const server = await new Server(tmpDir('cbig'), ['--max-blob-bytes', String(2 * SIZE)]).start()
  servers.push(server)
  const room = 'big'
  const blob = generatedBlob(SIZE, 7)
  const up = await BlobClient.connect(server.url, room)
  assert((await up.upload(blob)).done, 'blob uploaded')
  up.close()

  const work = tmpDir('cbigwork')
  const data = path.join(work, 'client')
  const out = path.join(work, 'got.bin')
  const args = [hashRef(blob.hash), '--server', server.url, '--room', room, '--data', data, '--timeout', '5', '-o', out]

  let killed = false
  let serverHwm = 0
  const first = await get(args, s => {
    if (!killed && server.alive()) serverHwm = Math.max(serverHwm, vmHWM(server.pid()))
    if (!killed && s.written > SIZE * 0.5) { killed = true; server.kill('SIGKILL') }
  })
  assert(killed, `the server was killed mid-transfer (client wrote ${first.written} bytes)`)
  assert(first.code !== 0, `the interrupted get fails: ${first.err}`)
  assert(!fs.existsSync(out), 'nothing written by the interrupted get')
  const partial = fs.readdirSync(path.join(data, 'partial')).filter(f => f.endsWith('.meta'))
  assert(partial.length === 1, 'a resumable partial is left behind')

  await server.start(server.port)
  const second = await get(args, () => { if (server.alive()) serverHwm = Math.max(serverHwm, vmHWM(server.pid())) })
  assert(second.code === 0, `resumed get: ${second.err}`)
  const resumed = second.err.match(/resuming: (\d+) of (\d+) bytes already here/)
  assert(resumed, `the second get resumed the partial download: ${second.err}`)
  const have = Number(resumed[1])
  assert(Number(resumed[2]) === SIZE && have >= SIZE * 0.1 && have < SIZE,
    `the resumed get asks only for the missing part (${have} of ${SIZE} bytes already here)`)

  const hash = crypto.createHash('sha256')
  const fd = fs.openSync(out, 'r')
  const buf = Buffer.alloc(8 << 20)
  let n
  while ((n = fs.readSync(fd, buf, 0, buf.length)) > 0) hash.update(buf.subarray(0, n))
  fs.closeSync(fd)
  assert(hash.digest().equals(Buffer.from(blob.hash)), 'the written file is the blob')
  assert(fs.readdirSync(path.join(data, 'partial')).filter(f => f.endsWith('.meta')).length === 0, 'partial removed')

  serverHwm = Math.max(serverHwm, vmHWM(server.pid()))
  console.log(`client VmHWM ${(first.hwm / 1024).toFixed(1)} / ${(second.hwm / 1024).toFixed(1)} MiB (interrupted / resumed), ` +
    `server VmHWM ${(serverHwm / 1024).toFixed(1)} MiB, resumed with ${(have / 1048576).toFixed(0)} MiB of ${(SIZE / 1048576).toFixed(0)}`)
  assert(first.hwm > 0 && second.hwm > 0, 'client VmHWM sampled')
  assert(first.hwm < LIMIT_KB && second.hwm < LIMIT_KB, `client VmHWM ${first.hwm} / ${second.hwm} kB < 128 MiB`)
  assert(serverHwm < LIMIT_KB, `server VmHWM ${serverHwm} kB < 128 MiB`)
  fs.rmSync(work, { recursive: true, force: true })
})
