// bench/sync.sh's fixed-rate delivery measurement: real y-websocket clients
// (y-websocket@1.5.4's WebsocketProvider, yjs, ws from tests/node_modules)
// in one room, each inserting a small stamp into its own Y.Text at a fixed
// rate; every update reaches the other clients through the server.
//
//   node bench/sync_rate.mjs --url ws://127.0.0.1:PORT/sync --room R --pid PID
//        [--clients 100] [--rate 5] [--seconds 10] [--warmup 3] [--procs 2]
//
// Prints one JSON line: updates sent and delivered in the measured window,
// the server's CPU in it (utime/stime of /proc/PID/stat, all threads), its
// system calls (perf stat -e raw_syscalls:sys_enter -p PID; null without
// perf), and send -> delivery latency percentiles (process.hrtime is the
// system-wide CLOCK_MONOTONIC, so stamps compare across the client processes).
//
// The clients run in --procs child processes (one Node thread cannot decode
// 100 x 99 updates at 12/s); each sends at its own random phase so the
// offered load is smooth, as independent users' would be.
import { fork, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(import.meta.url)
const require = createRequire(path.join(path.dirname(here), '../tests/node_modules/x.js'))

function args () {
  const a = { clients: 100, rate: 5, seconds: 10, warmup: 3, procs: 2, mode: 'wire' }
  const v = process.argv.slice(2)
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--/, '')
    a[k] = ['url', 'room', 'role', 'mode'].includes(k) ? v[i + 1] : Number(v[i + 1])
  }
  return a
}
const nowMs = () => Number(process.hrtime.bigint()) / 1e6

// ---- a child: clients [from, to) ----
async function child (a) {
  process.setMaxListeners(0) // y-websocket adds an exit listener per provider
  const Y = require('yjs')
  const WebSocket = require('ws')
  const clients = []
  let win = null // [start, end] in hrtime ms
  const lat = []
  let delivered = 0; let sent = 0; let sentAll = 0
  const onStamps = (str) => {
    const t = nowMs()
    for (const m of str.matchAll(/@([0-9]+\.[0-9]{3});/g)) {
      if (win && t >= win[0] && t < win[1]) { delivered++; lat.push(t - Number(m[1])) }
    }
  }
  if (a.mode === 'provider') {
    // Real WebsocketProviders, each applying every update to its Y.Doc.
    const { WebsocketProvider } = require('y-websocket')
    for (let i = a.from; i < a.to; i++) {
      const doc = new Y.Doc()
      const provider = new WebsocketProvider(a.url, a.room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
      const c = { i, doc, provider, text: doc.getText('t' + i), synced: false }
      provider.on('sync', s => { if (s) c.synced = true })
      clients.push(c)
      for (let j = 0; j < a.clients; j++) {
        if (j === i) continue
        doc.getText('t' + j).observe(ev => {
          if (ev.transaction.origin !== provider) return
          for (const d of ev.delta) if (typeof d.insert === 'string') onStamps(d.insert)
        })
      }
    }
  } else {
    // The y-websocket wire protocol with updates from a real Y.Doc per
    // client, but received updates are scanned, not applied (see sync.sh).
    const encoding = require('lib0/dist/encoding.cjs')
    const decoding = require('lib0/dist/decoding.cjs')
    const syncProtocol = require('y-protocols/dist/sync.cjs')
    const awarenessProtocol = require('y-protocols/dist/awareness.cjs')
    for (let i = a.from; i < a.to; i++) {
      const doc = new Y.Doc()
      const awareness = new awarenessProtocol.Awareness(doc)
      const ws = new WebSocket(a.url + '/' + a.room)
      const c = { i, doc, text: doc.getText('t' + i), synced: false }
      const msg = (write) => { const e = encoding.createEncoder(); write(e); return encoding.toUint8Array(e) }
      doc.on('update', (u) => { if (ws.readyState === 1) ws.send(msg(e => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u) })) })
      ws.on('open', () => {
        ws.send(msg(e => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }))
        ws.send(msg(e => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])) }))
      })
      ws.on('message', (data) => {
        if (data[0] !== 0) return
        if (data[1] === 2) return onStamps(data.toString('latin1'))
        if (data[1] === 1) { c.synced = true; return }
        if (data[1] === 0) { // the server's step 1: answer with our state, as a provider would
          const d = decoding.createDecoder(data); decoding.readVarUint(d); decoding.readVarUint(d)
          const sv = decoding.readVarUint8Array(d)
          ws.send(msg(e => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc, sv) }))
        }
      })
      ws.on('error', (err) => { console.error('sync_rate: client', i, err.message); process.exit(1) })
      clients.push(c)
    }
  }
  while (!clients.every(c => c.synced)) await new Promise(resolve => setTimeout(resolve, 20))
  process.send({ ready: true })
  const go = await new Promise(resolve => process.once('message', resolve))
  win = [go.start + go.warmup * 1000, go.start + (go.warmup + go.seconds) * 1000]
  const cpu0 = process.cpuUsage()
  const stopAt = win[1] + 200
  const period = 1000 / a.rate
  // Each client sends on its own schedule (start + phase + k * period), so a
  // late timer does not shift the later sends.
  for (const c of clients) {
    const phase = Math.random() * period
    let k = 0
    const tick = () => {
      const t = nowMs()
      if (t >= stopAt) return
      c.text.insert(c.text.length, '@' + t.toFixed(3) + ';')
      sentAll++
      if (t >= win[0] && t < win[1]) sent++
      k++
      setTimeout(tick, Math.max(0, go.start + phase + k * period - nowMs()))
    }
    setTimeout(tick, Math.max(0, go.start + phase - nowMs()))
  }
  await new Promise(resolve => setTimeout(resolve, Math.max(0, stopAt + 500 - nowMs())))
  const cpu = process.cpuUsage(cpu0)
  for (const c of clients) c.provider?.destroy()
  // Exit only once the (large) report is through the IPC channel.
  process.send({ sent, sentAll, delivered, lat, cpu_s: (cpu.user + cpu.system) / 1e6 }, () => process.exit(0))
}

function readCpu (pid) {
  // /proc/PID/stat: fields after "(comm)"; utime and stime are the 12th and 13th.
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return { user: Number(f[11]), sys: Number(f[12]) }
}

async function parent (a) {
  const per = Math.ceil(a.clients / a.procs)
  const kids = []
  for (let p = 0; p < a.procs; p++) {
    const from = p * per; const to = Math.min(a.clients, from + per)
    if (from >= to) break
    const argv = ['--role', 'child', '--url', a.url, '--room', a.room, '--clients', String(a.clients),
      '--rate', String(a.rate), '--mode', a.mode, '--from', String(from), '--to', String(to)]
    kids.push(fork(here, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: (process.env.SYNC_RATE_NODE_ARGS || '').split(' ').filter(Boolean) }))
  }
  const first = (k) => new Promise((resolve, reject) => {
    k.once('message', resolve)
    k.once('exit', code => reject(new Error(`client process exited with ${code} before reporting`)))
  })
  const timeout = setTimeout(() => { console.error('sync_rate: clients did not sync in 60 s'); process.exit(1) }, 60000)
  await Promise.all(kids.map(first))
  clearTimeout(timeout)
  const start = nowMs() + 200
  for (const k of kids) k.send({ start, warmup: a.warmup, seconds: a.seconds })
  const results = kids.map(first)
  // The measured window: CPU and system calls of the server between its ends.
  await new Promise(resolve => setTimeout(resolve, start + a.warmup * 1000 - nowMs()))
  const hz = 100 // USER_HZ on Linux
  const cpu0 = readCpu(a.pid)
  let perfOut = ''
  const perf = spawn('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter', '-p', String(a.pid), '--', 'sleep', String(a.seconds)],
    { stdio: ['ignore', 'ignore', 'pipe'] })
  perf.on('error', () => {})
  perf.stderr?.on('data', d => { perfOut += d })
  const perfDone = new Promise(resolve => { perf.on('close', resolve); perf.on('error', resolve) })
  await new Promise(resolve => setTimeout(resolve, start + (a.warmup + a.seconds) * 1000 - nowMs()))
  const cpu1 = readCpu(a.pid)
  await perfDone
  const r = await Promise.all(results)
  const lat = r.flatMap(x => x.lat).sort((x, y) => x - y)
  const pct = q => lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : NaN
  const sent = r.reduce((s, x) => s + x.sent, 0)
  const delivered = r.reduce((s, x) => s + x.delivered, 0)
  const m = /^([0-9]+),/m.exec(perfOut)
  const userS = (cpu1.user - cpu0.user) / hz; const sysS = (cpu1.sys - cpu0.sys) / hz
  console.log(JSON.stringify({
    clients: a.clients,
    rate: a.rate,
    mode: a.mode,
    seconds: a.seconds,
    sent,
    delivered,
    expected: sent * (a.clients - 1),
    offered: a.clients * a.rate * a.seconds,
    client_cpu_s: r.reduce((s, x) => s + x.cpu_s, 0),
    cpu_user_s: userS,
    cpu_sys_s: sysS,
    us_per_delivery: delivered ? (userS + sysS) * 1e6 / delivered : NaN,
    syscalls: m ? Number(m[1]) : null,
    syscalls_per_delivery: m && delivered ? Number(m[1]) / delivered : null,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    max_ms: lat.length ? lat[lat.length - 1] : NaN
  }))
  process.exit(0)
}

const a = args()
if (a.role === 'child') await child(a)
else await parent(a)
