// Golden tests: expected bytes come from yjs, run here at test time.
// 1. Scenarios of Map/Array/Text/nested edits run in yjs and in the C++
//    core (crdt_peer) with the same client id: every update event, the final
//    encodeStateAsUpdate (v1 and v2), the state vector and toJSON must be
//    byte-identical.
// 2. yjs replays the automerge-paper trace with client 300000000; its v1/v2
//    encodings are written to a temp dir and the C++ test
//    Trace.AutomergePaperExactSizes compares them byte for byte.
//
//   node golden.mjs --peer PATH/crdt_peer --tests PATH/crdt_tests
import * as Y from 'yjs'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { CppPeer, toB64, fromB64 } from './peer.mjs'

const args = process.argv.slice(2)
const arg = name => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
const peerPath = arg('--peer')
const testsPath = arg('--tests')
if (!peerPath) { console.error('usage: golden.mjs --peer PATH [--tests PATH]'); process.exit(2) }

const scenarios = {
  map_basic: [
    ['map', 'map_set', { key: 'a', value: 1 }], ['map', 'map_set', { key: 'b', value: 'two' }],
    ['map', 'map_set', { key: 'a', value: { x: [1, 2.5, null, true], '7': 'n' } }], ['map', 'map_delete', { key: 'b' }],
    ['map', 'map_set', { key: 'big', value: 2 ** 40 }], ['map', 'map_set', { key: 'f', value: 0.1 }],
    ['map', 'map_set', { key: 'bin', value: { $bin: 'AQID' } }]
  ],
  array_basic: [
    ['arr', 'array_insert', { index: 0, values: [1, 2, 3] }], ['arr', 'array_insert', { index: 1, values: ['x', 'y'] }],
    ['arr', 'array_delete', { index: 2, len: 2 }], ['arr', 'array_insert', { index: 3, values: [{ a: 1 }] }],
    ['arr', 'array_delete', { index: 0, len: 1 }]
  ],
  text_typing: [
    ['text', 'text_insert', { index: 0, text: 'hello' }], ['text', 'text_insert', { index: 5, text: ' world' }],
    ['text', 'text_delete', { index: 0, len: 1 }], ['text', 'text_insert', { index: 0, text: 'H' }],
    ['text', 'text_insert', { index: 3, text: '😀é中' }], ['text', 'text_delete', { index: 2, len: 4 }],
    ['text', 'text_insert', { index: 2, text: 'XY' }]
  ],
  text_formatting: [
    ['text', 'text_insert', { index: 0, text: 'hello world' }], ['text', 'text_format', { index: 0, len: 5, attrs: { bold: true } }],
    ['text', 'text_insert', { index: 11, text: '!', attrs: { italic: true } }], ['text', 'text_format', { index: 2, len: 6, attrs: { bold: null } }],
    ['text', 'text_delete', { index: 1, len: 3 }]
  ],
  nested: [
    ['map', 'map_set_type', { key: 'inner', kind: 'array' }], ['map/inner', 'array_insert', { index: 0, values: [1, 'a'] }],
    ['map/inner', 'array_insert_type', { index: 1, kind: 'text' }], ['map/inner/1', 'text_insert', { index: 0, text: 'nested 😀' }],
    ['map/inner', 'array_insert_type', { index: 0, kind: 'map' }], ['map/inner/0', 'map_set', { key: 'k', value: 'v' }],
    ['map', 'map_delete', { key: 'inner' }], ['map', 'map_set', { key: 'after', value: [] }]
  ]
}

const toPath = s => s.split('/').map(seg => /^\d+$/.test(seg) ? Number(seg) : seg)
function resolveJs (doc, p) {
  let t = p[0] === 'arr' ? doc.getArray('arr') : p[0] === 'map' ? doc.getMap('map') : doc.getText('text')
  for (const seg of p.slice(1)) t = t.get(seg)
  return t
}
const decodeVal = v => {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && '$bin' in v) return fromB64(v.$bin)
  if (Array.isArray(v)) return v.map(decodeVal)
  if (v !== null && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) o[k] = decodeVal(v[k]); return o }
  return v
}
const newType = k => k === 'map' ? new Y.Map() : k === 'text' ? new Y.Text() : new Y.Array()
function applyJs (doc, op) {
  const t = resolveJs(doc, op.path)
  switch (op.type) {
    case 'map_set': return t.set(op.key, decodeVal(op.value))
    case 'map_set_type': return t.set(op.key, newType(op.kind))
    case 'map_delete': return t.delete(op.key)
    case 'array_insert': return t.insert(op.index, op.values.map(decodeVal))
    case 'array_insert_type': return t.insert(op.index, [newType(op.kind)])
    case 'array_delete': return t.delete(op.index, op.len)
    case 'text_insert': return op.attrs ? t.insert(op.index, op.text, op.attrs) : t.insert(op.index, op.text)
    case 'text_delete': return t.delete(op.index, op.len)
    case 'text_format': return t.format(op.index, op.len, op.attrs)
  }
}
const hex = u8 => Buffer.from(u8).toString('hex')

let failures = 0
const check = (name, what, a, b) => {
  if (a !== b) { failures++; console.error(`FAIL ${name}: ${what}\n  yjs: ${a}\n  cpp: ${b}`) }
}

const peer = new CppPeer(peerPath)
let id = 1
for (const [name, steps] of Object.entries(scenarios)) {
  const client = 300000000 + id
  const doc = new Y.Doc()
  doc.clientID = client
  doc.getArray('arr'); doc.getMap('map'); doc.getText('text')
  const jsUpdates = []
  doc.on('update', u => jsUpdates.push(hex(u)))
  const docId = id++
  await peer.send({ cmd: 'new', id: docId, client, roots: [['arr', 'array'], ['map', 'map'], ['text', 'text']] })
  for (const [p, type, rest] of steps) {
    const op = { type, path: toPath(p), ...rest }
    applyJs(doc, op)
    const r = await peer.send({ cmd: 'op', id: docId, op })
    if (r.error) { failures++; console.error(`FAIL ${name}: op ${JSON.stringify(op)}: ${r.error}`) }
  }
  const cppUpdates = (await peer.send({ cmd: 'updates', id: docId })).updates.map(u => hex(fromB64(u)))
  check(name, 'update events', jsUpdates.join('\n'), cppUpdates.join('\n'))
  const stateV1 = (await peer.send({ cmd: 'state', id: docId, sv: 'AA==' })).update
  check(name, 'encodeStateAsUpdate v1', hex(Y.encodeStateAsUpdate(doc)), hex(fromB64(stateV1)))
  const stateV2 = (await peer.send({ cmd: 'state', id: docId, sv: 'AA==', fmt: 'v2' })).update
  check(name, 'encodeStateAsUpdateV2', hex(Y.encodeStateAsUpdateV2(doc)), hex(fromB64(stateV2)))
  check(name, 'state vector', hex(Y.encodeStateVector(doc)), hex(fromB64((await peer.send({ cmd: 'sv', id: docId })).sv)))
  check(name, 'toJSON', JSON.stringify(doc.toJSON()), (await peer.send({ cmd: 'json', id: docId })).json)
  // diff against a partial state vector
  const partial = Y.encodeStateVector(new Y.Doc())
  check(name, 'state for empty sv', hex(Y.encodeStateAsUpdate(doc, partial)), hex(fromB64((await peer.send({ cmd: 'state', id: docId, sv: toB64(partial) })).update)))
  console.log(`done ${name}`)
}

// Documents with every content kind (XML types with attributes and
// formatting, hooks, embeds, binary, subdocuments, legacy JSON content) are
// made by yjs; the C++ core loads them and must re-encode byte-identically.
function richDoc () {
  const doc = new Y.Doc(); doc.clientID = 123456789
  const frag = doc.getXmlFragment('xml')
  const p = new Y.XmlElement('P'); p.setAttribute('class', 'lead'); p.setAttribute('data-n', '7')
  const t = new Y.XmlText(); t.insert(0, 'bold', { b: {} }); t.insert(4, ' plain'); t.format(0, 2, { i: { lang: 'en' } })
  p.insert(0, [t]); frag.insert(0, [p, new Y.XmlText('tail'), new Y.XmlHook('hook')])
  const text = doc.getText('text'); text.insert(0, 'embed→'); text.insertEmbed(6, { image: 'x.png' }, { alt: 'x' }); text.insert(7, '😀', { em: true })
  const map = doc.getMap('map'); map.set('bin', new Uint8Array([0, 1, 255])); map.set('sub', new Y.Doc({ guid: 'sub-guid', meta: { a: 1 } }))
  map.set('num', [0.1, -0, 2 ** 53 - 1, -(2 ** 31), 1e300, 'str', null, true, { z: 1, '0': 0 }])
  const arr = doc.getArray('arr'); arr.insert(0, [1, 2, 3]); arr.delete(1, 1); arr.insert(1, [new Y.Text('in array')])
  text.delete(0, 2)
  // a second client editing concurrently
  const other = new Y.Doc(); other.clientID = 42; Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
  other.getText('text').insert(1, 'X'); other.getMap('map').set('num', 'overwritten'); frag.get(0).setAttribute('class', 'changed')
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(other))
  return doc
}
for (const gc of [true, false]) {
  const src = richDoc()
  const bytes = Y.encodeStateAsUpdate(src)
  const roots = [['xml', 'xml'], ['text', 'text'], ['map', 'map'], ['arr', 'array']]
  const fresh = new Y.Doc({ gc }); fresh.getXmlFragment('xml'); fresh.getText('text'); fresh.getMap('map'); fresh.getArray('arr')
  Y.applyUpdate(fresh, bytes)
  const docId = id++
  await peer.send({ cmd: 'new', id: docId, client: 5, gc, roots })
  const r = await peer.send({ cmd: 'apply', id: docId, update: toB64(bytes) })
  if (r.error) { failures++; console.error('FAIL rich doc load: ' + r.error) }
  const name = `rich_reencode_gc_${gc}`
  check(name, 'v1 re-encode', hex(Y.encodeStateAsUpdate(fresh)), hex(fromB64((await peer.send({ cmd: 'state', id: docId, sv: 'AA==' })).update)))
  check(name, 'v2 re-encode', hex(Y.encodeStateAsUpdateV2(fresh)), hex(fromB64((await peer.send({ cmd: 'state', id: docId, sv: 'AA==', fmt: 'v2' })).update)))
  check(name, 'toJSON', JSON.stringify(fresh.toJSON()), (await peer.send({ cmd: 'json', id: docId })).json)
  // v2 input
  const docId2 = id++
  await peer.send({ cmd: 'new', id: docId2, client: 6, gc, roots })
  await peer.send({ cmd: 'apply', id: docId2, update: toB64(Y.encodeStateAsUpdateV2(src)), fmt: 'v2' })
  check(name, 'v1 re-encode of v2 input', hex(Y.encodeStateAsUpdate(fresh)), hex(fromB64((await peer.send({ cmd: 'state', id: docId2, sv: 'AA==' })).update)))
  console.log(`done ${name}`)
}
await peer.close()

if (testsPath) {
  const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync('/work/shared/data/editing-traces/automerge-paper.json.gz')))
  const doc = new Y.Doc()
  doc.clientID = 300000000
  const text = doc.getText('text')
  for (const txn of trace.txns) for (const [pos, del, ins] of txn.patches) { if (del > 0) text.delete(pos, del); if (ins) text.insert(pos, ins) }
  if (text.toString() !== trace.endContent) { failures++; console.error('FAIL yjs replay of automerge-paper') }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdt-golden-'))
  fs.writeFileSync(path.join(dir, 'automerge-paper.v1.bin'), Y.encodeStateAsUpdate(doc))
  fs.writeFileSync(path.join(dir, 'automerge-paper.v2.bin'), Y.encodeStateAsUpdateV2(doc))
  const r = spawnSync(testsPath, ['--gtest_filter=Trace.AutomergePaperExactSizes'], { env: { ...process.env, BLOBSYNC_YJS_GOLDEN_DIR: dir }, stdio: 'inherit' })
  fs.rmSync(dir, { recursive: true })
  if (r.status !== 0) { failures++; console.error('FAIL automerge-paper bytes differ from yjs') } else console.log('ok automerge-paper v1/v2 byte-identical to yjs')
}
console.log(failures ? `${failures} FAILED` : 'all golden checks passed')
process.exit(failures ? 1 : 0)
