// A stock y-websocket client (another process, another yjs) and the provider
// in one room converge on the same document, and see each other's awareness.
import test from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { scope, until, repo } from './harness.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

test('a y-websocket client and the provider see the same document', async t => {
  const s = scope(t)
  const server = await s.server()
  const p = s.provider(server.url, 'converge')
  p.awareness.setLocalStateField('user', 'blobsync-client')
  const text = p.doc.getText('text')
  await p.whenSynced
  text.insert(0, 'from the provider\n')

  const child = spawn(process.execPath, [path.join(here, 'ywebsocket_peer.cjs'), server.url, 'converge', 'from y-websocket'], {
    env: { ...process.env, NODE_PATH: path.join(repo, 'tests/node_modules') }, stdio: ['pipe', 'pipe', 'inherit']
  })
  t.after(() => child.stdin.end())
  let childText = null
  let buf = ''
  child.stdout.on('data', d => {
    buf += d
    for (const m of buf.matchAll(/^TEXT (.*)$/gm)) childText = JSON.parse(m[1])
  })
  const both = v => v !== null && v.includes('from the provider\n') && v.includes('from y-websocket\n')
  await until(() => both(text.toString()) && both(childText) && text.toString() === childText,
    () => `convergence (provider ${JSON.stringify(text.toString())}, y-websocket ${JSON.stringify(childText)})`)
  // Awareness crosses too (the same socket, message type 1).
  await until(() => [...p.awareness.getStates().values()].some(st => st.user === 'y-websocket'), 'the y-websocket client\'s awareness')

  // An edit after the first sync travels as an update both ways.
  text.insert(0, '> ')
  await until(() => childText === text.toString() && childText.startsWith('> '), 'a later edit reached y-websocket')
})

test('the provider reconnects after a server restart and sends what changed meanwhile', async t => {
  const s = scope(t)
  const server = await s.server()
  const p = s.provider(server.url, 'restart', { maxBackoffMs: 300 })
  const text = p.doc.getText('text')
  await p.whenSynced
  text.insert(0, 'before. ')
  const statuses = []
  p.on('status', e => statuses.push(e.status))
  await until(async () => {
    const probe = s.provider(server.url, 'restart')
    await probe.whenSynced
    const ok = probe.doc.getText('text').toString() === 'before. '
    probe.destroy()
    return ok
  }, 'the first edit stored')
  await server.kill('SIGTERM')
  await until(() => statuses.includes('disconnected'), 'the provider saw the disconnect')
  text.insert(text.length, 'offline. ')
  await server.start(server.port)
  await until(() => p.synced && statuses.at(-1) === 'connected', `reconnected (${statuses})`)
  const fresh = s.provider(server.url, 'restart')
  await fresh.whenSynced
  await until(() => fresh.doc.getText('text').toString() === 'before. offline. ',
    () => `the offline edit reached the server (${JSON.stringify(fresh.doc.getText('text').toString())})`)
})
