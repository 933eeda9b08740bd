// Client for the crdt_peer helper (tests/crdt/crdt_peer.cpp): one JSON
// command per line on stdin, one JSON answer per line on stdout.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

export class CppPeer {
  constructor (path) {
    this.proc = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.waiting = []
    this.rl = createInterface({ input: this.proc.stdout })
    this.rl.on('line', line => {
      const w = this.waiting.shift()
      if (w) w(JSON.parse(line))
    })
    this.exited = new Promise(resolve => this.proc.on('exit', code => resolve(code)))
  }

  send (cmd) {
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve)
      this.proc.stdin.write(JSON.stringify(cmd) + '\n', err => { if (err) reject(err) })
    })
  }

  async close () {
    this.proc.stdin.write('{"cmd":"quit"}\n')
    this.proc.stdin.end()
    return this.exited
  }
}

export const toB64 = u8 => Buffer.from(u8).toString('base64')
export const fromB64 = s => new Uint8Array(Buffer.from(s, 'base64'))
