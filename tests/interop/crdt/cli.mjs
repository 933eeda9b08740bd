// `blobsync ydoc` CLI against yjs: update files made by yjs, outputs compared
// with what yjs computes (toJSON, state vector, merge, diff), and bad input
// must give one line on stderr and a non-zero exit.
//   node cli.mjs --cli PATH   (the blobsync binary or the ydoc_cli test host)
import * as Y from 'yjs'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'

const args = process.argv.slice(2)
const cli = args[args.indexOf('--cli') + 1]
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ydoc-cli-'))
const f = name => path.join(dir, name)
let failures = 0
const canon = v => Array.isArray(v) ? v.map(canon) : (v !== null && typeof v === 'object') ? Object.fromEntries(Object.keys(v).sort().map(k => [k, canon(v[k])])) : v
const same = (x, y) => JSON.stringify(canon(x)) === JSON.stringify(canon(y))
const expect = (cond, msg) => { if (!cond) { failures++; console.error('FAIL ' + msg) } else console.log('ok ' + msg) }
const run = (argv, input) => spawnSync(cli, ['ydoc', ...argv], { input, encoding: 'buffer' })

// A document with every root kind, edited by two clients.
const a = new Y.Doc(); a.clientID = 11
const b = new Y.Doc(); b.clientID = 4000000000
a.getMap('settings').set('title', 'Hello 😀'); a.getMap('settings').set('n', 1.5)
a.getArray('list').insert(0, [1, 'two', { three: 3 }, null])
a.getText('body').insert(0, 'Some text', { bold: true })
Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
b.getText('body').insert(4, ' more')
b.getArray('list').delete(0, 1)
const nested = new Y.Map(); b.getMap('settings').set('nested', nested); nested.set('deep', [true])
const frag = b.getXmlFragment('xml'); const el = new Y.XmlElement('P'); el.setAttribute('class', 'x'); frag.insert(0, [el])
el.insert(0, [new Y.XmlText('hi')])
Y.applyUpdate(a, Y.encodeStateAsUpdate(b))
const u1 = Y.encodeStateAsUpdate(a)
const svA = Y.encodeStateVector(a)
b.getText('body').insert(0, '>> ')
const u2 = Y.encodeStateAsUpdate(b, svA)
fs.writeFileSync(f('u1.bin'), u1)
fs.writeFileSync(f('u2.bin'), u2)
fs.writeFileSync(f('sva.bin'), svA)

// json with inference, files in order, stdin. Expected: a fresh yjs doc
// that read the same files, its roots typed as b's (yjs lists roots in the
// order the updates name them, not in b's creation order).
const fresh = new Y.Doc(); Y.applyUpdate(fresh, u1); Y.applyUpdate(fresh, u2)
for (const [name, type] of b.share) fresh.get(name, type.constructor)
const expectedJson = JSON.stringify(fresh.toJSON())
let r = run([ 'json', f('u1.bin'), f('u2.bin')])
expect(r.status === 0 && r.stdout.toString().trim() === expectedJson, `json infers root types (${r.stdout.toString().trim()} vs ${expectedJson}) ${r.stderr}`)
r = run(['json', '-', f('u2.bin')], u1)
expect(r.status === 0 && r.stdout.toString().trim() === expectedJson, 'json reads stdin for -')
// flags force a root's type, as doc.getX(name) does in yjs
const only = new Y.Doc(); Y.applyUpdate(only, u1)
only.getText('settings'); only.getArray('body'); only.getArray('list'); only.getXmlFragment('xml')
r = run(['json', f('u1.bin'), '--text', 'settings', '--array', 'body'])
expect(r.status === 0 && same(JSON.parse(r.stdout.toString()), only.toJSON()), `json --text/--array force types: ${r.stdout} ${JSON.stringify(only.toJSON())} ${r.stderr}`)

// sv
r = run(['sv', f('u1.bin')])
const svObj = {}; for (const [k, v] of Y.decodeStateVector(svA)) svObj[k] = v
expect(r.status === 0 && JSON.stringify(JSON.parse(r.stdout.toString())) === JSON.stringify(svObj), 'sv prints the state vector')

// merge: merged update loads in yjs to the same document
r = run(['merge', f('u1.bin'), f('u2.bin'), '-o', f('merged.bin')])
const m = new Y.Doc(); Y.applyUpdate(m, fs.readFileSync(f('merged.bin')))
m.getMap('settings'); m.getArray('list'); m.getText('body'); m.getXmlFragment('xml')
expect(r.status === 0 && same(m.toJSON(), b.toJSON()), `merge output loads in yjs ${JSON.stringify(m.toJSON())} ${r.stderr}`)

// diff: what a peer at svA lacks, applied on top of u1 gives the full doc
r = run(['diff', f('merged.bin'), '--sv', f('sva.bin'), '-o', f('diff.bin')])
const d = new Y.Doc(); Y.applyUpdate(d, u1); Y.applyUpdate(d, fs.readFileSync(f('diff.bin')))
d.getMap('settings'); d.getArray('list'); d.getText('body'); d.getXmlFragment('xml')
expect(r.status === 0 && same(d.toJSON(), b.toJSON()), 'diff output completes a peer')
const yDiff = Y.diffUpdate(Y.mergeUpdates([u1, u2]), svA)
const dd = new Y.Doc(); Y.applyUpdate(dd, u1); Y.applyUpdate(dd, yDiff); dd.getMap('settings'); dd.getArray('list'); dd.getText('body'); dd.getXmlFragment('xml')
expect(same(dd.toJSON(), d.toJSON()), 'diff agrees with Y.diffUpdate ' + JSON.stringify(dd.toJSON()) + JSON.stringify(d.toJSON()))

// bad input
fs.writeFileSync(f('bad.bin'), Buffer.from([1, 5, 0xff, 0xff]))
for (const argv of [['json', f('bad.bin')], ['sv', f('bad.bin')], ['json', f('missing.bin')], ['merge', f('bad.bin'), '-o', f('x.bin')],
  ['diff', f('u1.bin'), '--sv', f('bad.bin'), '-o', f('x.bin')]]) {
  r = run(argv)
  const lines = r.stderr.toString().trim().split('\n')
  expect(r.status !== 0 && lines.length === 1 && lines[0].length > 0, `bad input ${argv[0]} ${path.basename(argv[1])}: "${lines[0]}"`)
}
fs.rmSync(dir, { recursive: true })
process.exit(failures ? 1 : 0)
