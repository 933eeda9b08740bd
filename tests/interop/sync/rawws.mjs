// A raw WebSocket client for tests that need frames y-websocket never
// sends (batched, split, fragmented, pings, bare FINs, silence): masked
// client frames out, server frames parsed in.
import net from 'node:net'
import crypto from 'node:crypto'
import { assert } from './harness.mjs'

// One masked client frame.
export function frame (opcode, payload, fin = true) {
  const mask = crypto.randomBytes(4)
  const n = payload.length
  const head = n < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | n])
    : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, n >> 8, n & 0xff])
  const body = Buffer.from(payload)
  for (let i = 0; i < n; i++) body[i] ^= mask[i & 3]
  return Buffer.concat([head, mask, body])
}

// Reads server frames (unmasked) from the socket.
export function reader (sock, initial) {
  let buf = Buffer.alloc(0)
  const frames = []
  const onData = d => {
    buf = Buffer.concat([buf, d])
    for (;;) {
      if (buf.length < 2) return
      let len = buf[1] & 0x7f; let h = 2
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); h = 4 }
      if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); h = 10 }
      if (buf.length < h + len) return
      frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(h, h + len) })
      buf = buf.subarray(h + len)
    }
  }
  sock.on('data', onData)
  onData(initial)
  return frames
}

// Upgrades a raw socket to /sync/<room>; returns it and the frames it receives.
export async function rawConnect (port, room) {
  const sock = net.connect(port, '127.0.0.1')
  await new Promise(resolve => sock.on('connect', resolve))
  sock.setNoDelay(true)
  sock.write(`GET /sync/${room} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  let head = Buffer.alloc(0)
  const rest = await new Promise(resolve => {
    const onData = d => {
      head = Buffer.concat([head, d])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      sock.off('data', onData)
      assert(head.subarray(0, 12).toString() === 'HTTP/1.1 101', `upgraded: ${head.subarray(0, 40)}`)
      resolve(head.subarray(end + 4))
    }
    sock.on('data', onData)
  })
  return { sock, frames: reader(sock, rest) }
}

// A Yjs update as a sync message's varint-length-prefixed payload.
export function lengthPrefixed (u) {
  const out = []
  let n = u.length
  while (n > 0x7f) { out.push(0x80 | (n & 0x7f)); n >>>= 7 }
  out.push(n)
  return Buffer.concat([Buffer.from(out), Buffer.from(u)])
}
