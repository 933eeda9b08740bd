// Differential test: random operations on several yjs documents and several
// blobsync C++ documents (through crdt_peer), updates exchanged in random
// order with duplicates and drops, then state-vector resync in both
// directions. After every round all documents must agree on toJSON, state
// vectors and delete sets, and each side's encodeStateAsUpdate (v1 and v2)
// must load in the other to exactly the same JSON.
//
//   node differential.mjs --peer build/tests/crdt/crdt_peer [--seeds N] [--start S] [--seed S]
//                         [--max-docs D] [--max-rounds R]   (defaults 2 per side, 5 rounds)
// A failing seed is printed; replay it with --seed S (or CRDT_SEED=S).
import * as Y from 'yjs'
import { CppPeer, toB64, fromB64 } from './peer.mjs'

const args = process.argv.slice(2)
const arg = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : dflt
}
const peerPath = arg('--peer')
if (!peerPath) { console.error('usage: differential.mjs --peer PATH [--seeds N] [--seed S]'); process.exit(2) }
const single = arg('--seed', process.env.CRDT_SEED)
const nSeeds = Number(arg('--seeds', '200'))
const start = Number(arg('--start', '1'))
const verbose = single !== undefined
const maxDocs = Number(arg('--max-docs', '2'))     // per side
const maxRounds = Number(arg('--max-rounds', '5'))

const mulberry32 = a => () => {
  a |= 0; a = a + 0x6D2B79F5 | 0
  let t = Math.imul(a ^ a >>> 15, 1 | a)
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
  return ((t ^ t >>> 14) >>> 0) / 4294967296
}

const ROOTS = [['arr', 'array'], ['map', 'map'], ['text', 'text'], ['xml', 'xml']]
const XML_NAMES = ['p', 'div', 'H1', 'span']
const CHARS = ['a', 'b', 'c', 'd', ' ', '\n', 'é', '中', '😀', '👍🏽', '𝄞', 'Ω']
const ATTRS = [{ bold: true }, { bold: null }, { italic: true }, { color: '#f00' }, { color: null }, { link: { href: 'https://x.y', n: 1 } }, { list: [1, 'a'] }]

function makeRng (seed) {
  const r = mulberry32(seed)
  const rng = {
    f: r,
    int: n => Math.floor(r() * n),
    pick: a => a[Math.floor(r() * a.length)],
    chance: p => r() < p
  }
  rng.str = () => { let s = ''; const n = 1 + rng.int(4); for (let i = 0; i < n; i++) s += rng.pick(CHARS); return s }
  rng.value = (depth = 0) => {
    switch (rng.int(depth > 1 ? 7 : 10)) {
      case 0: return rng.int(2001) - 1000
      case 1: return rng.pick([0.5, -1.25, 3.14159, 1e21, 2 ** 31, 2 ** 40 + 3, -(2 ** 33), 1e-7, 123456.789])
      case 2: return rng.str()
      case 3: return rng.chance(0.5)
      case 4: return null
      case 5: return rng.f() * 1e6
      case 6: return 'k' + rng.int(100)
      case 7: { const a = []; const n = rng.int(3); for (let i = 0; i < n; i++) a.push(rng.value(depth + 1)); return a }
      case 8: { const o = {}; const n = rng.int(3); for (let i = 0; i < n; i++) o[rng.pick(['a', 'b', '1', '10', 'z'])] = rng.value(depth + 1); return o }
      default: return new Uint8Array([rng.int(256), rng.int(256)])
    }
  }
  return rng
}

// Values travel to C++ as JSON; binary as {"$bin": base64}.
const encodeVal = v => {
  if (v instanceof Uint8Array) return { $bin: toB64(v) }
  if (Array.isArray(v)) return v.map(encodeVal)
  if (v !== null && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) o[k] = encodeVal(v[k]); return o }
  return v
}
const decodeVal = v => {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && '$bin' in v) return fromB64(v.$bin)
  if (Array.isArray(v)) return v.map(decodeVal)
  if (v !== null && typeof v === 'object') { const o = {}; for (const k of Object.keys(v)) o[k] = decodeVal(v[k]); return o }
  return v
}

function jsTypes (doc) {
  const out = []
  const visit = (t, path) => {
    if (t instanceof Y.Map) {
      out.push({ path, kind: 'map', len: t.size })
      for (const [k, v] of t.entries()) if (v instanceof Y.AbstractType) visit(v, [...path, k])
    } else if (t instanceof Y.Array) {
      out.push({ path, kind: 'array', len: t.length })
      t.toArray().forEach((v, i) => { if (v instanceof Y.AbstractType) visit(v, [...path, i]) })
    } else if (t instanceof Y.XmlText) {
      out.push({ path, kind: 'xmltext', len: t.length, str: t.toDelta().map(d => typeof d.insert === 'string' ? d.insert : '').join('') })
    } else if (t instanceof Y.Text) {
      out.push({ path, kind: 'text', len: t.length, str: t.toString() })
    } else if (t instanceof Y.XmlElement || t instanceof Y.XmlFragment) {
      out.push({ path, kind: t instanceof Y.XmlElement ? 'xmlelement' : 'xmlfragment', len: t.length })
      t.toArray().forEach((v, i) => { if (v instanceof Y.AbstractType) visit(v, [...path, i]) })
    }
  }
  visit(doc.getArray('arr'), ['arr'])
  visit(doc.getMap('map'), ['map'])
  visit(doc.getText('text'), ['text'])
  visit(doc.getXmlFragment('xml'), ['xml'])
  return out
}

function resolveJs (doc, path) {
  let t = path[0] === 'arr' ? doc.getArray('arr') : path[0] === 'map' ? doc.getMap('map') : path[0] === 'xml' ? doc.getXmlFragment('xml') : doc.getText('text')
  for (const seg of path.slice(1)) t = typeof seg === 'string' ? t.get(seg) : t.get(seg)
  return t
}

const newType = kind => kind === 'map' ? new Y.Map() : kind === 'text' ? new Y.Text() : new Y.Array()

function applyJs (doc, op) {
  const t = resolveJs(doc, op.path)
  switch (op.type) {
    case 'map_set': t.set(op.key, decodeVal(op.value)); break
    case 'map_set_type': t.set(op.key, newType(op.kind)); break
    case 'map_delete': t.delete(op.key); break
    case 'array_insert': t.insert(op.index, op.values.map(decodeVal)); break
    case 'array_insert_type': t.insert(op.index, [newType(op.kind)]); break
    case 'array_delete': t.delete(op.index, op.len); break
    case 'text_insert': if (op.attrs) t.insert(op.index, op.text, op.attrs); else t.insert(op.index, op.text); break
    case 'text_delete': t.delete(op.index, op.len); break
    case 'text_format': t.format(op.index, op.len, op.attrs); break
    case 'xml_insert_element': t.insert(op.index, [new Y.XmlElement(op.name)]); break
    case 'xml_insert_text': t.insert(op.index, [new Y.XmlText()]); break
    case 'xml_delete': t.delete(op.index, op.len); break
    case 'xml_set_attr': t.setAttribute(op.key, op.value); break
    default: throw new Error('bad op ' + op.type)
  }
}

// UTF-16 positions that do not split a surrogate pair.
function safePositions (s) {
  const out = []
  for (let i = 0; i <= s.length; i++) {
    const hi = i > 0 ? s.charCodeAt(i - 1) : 0
    if (!(hi >= 0xd800 && hi <= 0xdbff)) out.push(i)
  }
  return out
}

function genOp (rng, types) {
  const t = rng.pick(types)
  const depth = t.path.length
  const kind = rng.pick(['map', 'array', 'text'])
  if (t.kind === 'map') {
    const key = rng.pick(['a', 'b', 'c', 'd', '1', '20', 'emoji😀'])
    const r = rng.f()
    if (r < 0.5) return { type: 'map_set', path: t.path, key, value: encodeVal(rng.value()) }
    if (r < 0.65 && depth < 4) return { type: 'map_set_type', path: t.path, key, kind }
    return { type: 'map_delete', path: t.path, key }
  }
  if (t.kind === 'array') {
    const r = rng.f()
    if (r < 0.5 || t.len === 0) {
      const values = []
      const n = 1 + rng.int(3)
      for (let i = 0; i < n; i++) values.push(encodeVal(rng.value()))
      if (r < 0.65 && depth < 4 && rng.chance(0.3)) return { type: 'array_insert_type', path: t.path, index: rng.int(t.len + 1), kind }
      return { type: 'array_insert', path: t.path, index: rng.int(t.len + 1), values }
    }
    const index = rng.int(t.len)
    return { type: 'array_delete', path: t.path, index, len: 1 + rng.int(Math.min(3, t.len - index)) }
  }
  if (t.kind === 'xmlfragment' || t.kind === 'xmlelement') {
    const r = rng.f()
    if (t.kind === 'xmlelement' && r < 0.25) return { type: 'xml_set_attr', path: t.path, key: rng.pick(['class', 'id', 'data-x']), value: rng.str() }
    if (r < 0.7 || t.len === 0) {
      if (depth > 4 || rng.chance(0.5)) return { type: 'xml_insert_text', path: t.path, index: rng.int(t.len + 1) }
      return { type: 'xml_insert_element', path: t.path, index: rng.int(t.len + 1), name: rng.pick(XML_NAMES) }
    }
    const index = rng.int(t.len)
    return { type: 'xml_delete', path: t.path, index, len: 1 + rng.int(Math.min(2, t.len - index)) }
  }
  const pos = safePositions(t.str)
  const r = rng.f()
  if (r < 0.5 || t.len === 0) {
    const op = { type: 'text_insert', path: t.path, index: rng.pick(pos), text: rng.str() }
    if (rng.chance(0.3)) op.attrs = rng.pick(ATTRS)
    return op
  }
  const a = rng.pick(pos)
  const rest = pos.filter(p => p > a && p <= a + 6)
  if (rest.length === 0) return { type: 'text_insert', path: t.path, index: a, text: rng.str() }
  const b = rng.pick(rest)
  if (r < 0.8) return { type: 'text_delete', path: t.path, index: a, len: b - a }
  return { type: 'text_format', path: t.path, index: a, len: b - a, attrs: rng.pick(ATTRS) }
}

const canon = v => {
  if (Array.isArray(v)) return v.map(canon)
  if (v !== null && typeof v === 'object') { const o = {}; for (const k of Object.keys(v).sort()) o[k] = canon(v[k]); return o }
  return v
}
const canonStr = v => JSON.stringify(canon(v))

function jsDs (doc) {
  const ds = Y.createDeleteSetFromStructStore(doc.store)
  const o = {}
  for (const [client, items] of ds.clients) o[client] = items.map(i => [i.clock, i.len])
  return canonStr(o)
}
const svObj = u8 => { const o = {}; for (const [k, v] of Y.decodeStateVector(u8)) o[k] = v; return canonStr(o) }

class JsDoc {
  constructor (client, gc) {
    this.doc = new Y.Doc({ gc })
    this.doc.clientID = client
    for (const [name, kind] of ROOTS) kind === 'map' ? this.doc.getMap(name) : kind === 'text' ? this.doc.getText(name) : kind === 'xml' ? this.doc.getXmlFragment(name) : this.doc.getArray(name)
    this.outbox = []
    this.doc.on('update', u => this.outbox.push(u))
    this.name = `js(${client})`
  }
  async op (op) { applyJs(this.doc, op) }
  async types () { return jsTypes(this.doc) }
  async takeUpdates () { const u = this.outbox; this.outbox = []; return u }
  async apply (u, v2 = false) { v2 ? Y.applyUpdateV2(this.doc, u) : Y.applyUpdate(this.doc, u) }
  async sv () { return Y.encodeStateVector(this.doc) }
  async state (sv, v2 = false) { return v2 ? Y.encodeStateAsUpdateV2(this.doc, sv) : Y.encodeStateAsUpdate(this.doc, sv) }
  async json () { return JSON.stringify(this.doc.toJSON()) }
  async ds () { return jsDs(this.doc) }
  async pending () { return this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null }
}

class CppDoc {
  constructor (peer, id, client, gc) {
    this.peer = peer; this.id = id; this.name = `cpp(${client})`
    this.ready = peer.send({ cmd: 'new', id, client, gc })
  }
  async call (cmd) {
    const r = await this.peer.send({ ...cmd, id: this.id })
    if (r.error) throw new Error(`${this.name} ${cmd.cmd}: ${r.error}`)
    return r
  }
  async op (op) { await this.call({ cmd: 'op', op }) }
  async types () { return (await this.call({ cmd: 'types' })).types }
  async takeUpdates () { return (await this.call({ cmd: 'updates' })).updates.map(fromB64) }
  async apply (u, v2 = false) { await this.call({ cmd: 'apply', update: toB64(u), fmt: v2 ? 'v2' : 'v1' }) }
  async sv () { return fromB64((await this.call({ cmd: 'sv' })).sv) }
  async state (sv, v2 = false) { return fromB64((await this.call({ cmd: 'state', sv: toB64(sv), fmt: v2 ? 'v2' : 'v1' })).update) }
  async json () { return (await this.call({ cmd: 'json' })).json }
  async ds () { const r = await this.call({ cmd: 'ds' }); return canonStr(r.ds) }
  async pending () { return (await this.call({ cmd: 'ds' })).pending }
  async free () { await this.peer.send({ cmd: 'free', id: this.id }) }
}

let nextDocId = 1
async function cppCall (peer, cmd) {
  const r = await peer.send(cmd)
  if (r.error) throw new Error(`crdt_peer ${cmd.cmd}: ${r.error}`)
  return r
}

async function runSeed (peer, seed) {
  const rng = makeRng(seed)
  const gc = !rng.chance(0.2)
  const docs = []
  const nJs = 1 + rng.int(maxDocs)
  const nCpp = 1 + rng.int(maxDocs)
  const usedClients = new Set()
  const client = () => {
    let c
    do { c = rng.chance(0.15) ? 2 ** 40 + rng.int(1000) : rng.int(2 ** 32) } while (usedClients.has(c))
    usedClients.add(c)
    return c
  }
  for (let i = 0; i < nJs; i++) docs.push(new JsDoc(client(), gc))
  for (let i = 0; i < nCpp; i++) { const d = new CppDoc(peer, nextDocId++, client(), gc); await d.ready; docs.push(d) }
  const log = []
  const partials = []
  const rounds = 2 + rng.int(Math.max(1, maxRounds - 1))
  try {
    for (let round = 0; round < rounds; round++) {
      for (const d of docs) {
        const n = 1 + rng.int(5)
        for (let i = 0; i < n; i++) {
          const op = genOp(rng, await d.types())
          log.push(`${d.name}: ${JSON.stringify(op)}`)
          await d.op(op)
        }
      }
      const outboxes = []
      for (const d of docs) outboxes.push(await d.takeUpdates())
      for (const o of outboxes) for (const u of o) if (rng.chance(0.3)) partials.push(u)
      // random delivery with duplicates and drops
      for (let di = 0; di < docs.length; di++) {
        const msgs = []
        for (let si = 0; si < docs.length; si++) {
          if (si === di) continue
          for (const u of outboxes[si]) {
            if (rng.chance(0.15)) continue
            msgs.push(u)
            if (rng.chance(0.1)) msgs.push(u)
          }
        }
        for (let i = msgs.length - 1; i > 0; i--) { const j = rng.int(i + 1); [msgs[i], msgs[j]] = [msgs[j], msgs[i]] }
        if (msgs.length > 1 && rng.chance(0.3)) {
          // deliver as one update merged by the C++ doc-free merge (or by yjs)
          const useCpp = rng.chance(0.5)
          const merged = useCpp ? fromB64((await cppCall(peer, { cmd: 'merge', updates: msgs.map(toB64) })).update) : Y.mergeUpdates(msgs)
          await docs[di].apply(merged)
        } else {
          for (const u of msgs) await docs[di].apply(u)
        }
        await docs[di].takeUpdates() // local side effects are resent by the resync below
      }
      // resync through state vectors until quiet (yjs may add formatting cleanups)
      for (let pass = 0; pass < 4; pass++) {
        for (const a of docs) {
          for (const b of docs) {
            if (a === b) continue
            const v2 = rng.chance(0.3)
            if (!v2 && rng.chance(0.25)) {
              // full state cut down by a doc-free diff (C++ or yjs)
              const full = await a.state(new Uint8Array([0]))
              const sv = await b.sv()
              const d = rng.chance(0.5) ? fromB64((await cppCall(peer, { cmd: 'diff', update: toB64(full), sv: toB64(sv) })).update) : Y.diffUpdate(full, sv)
              await b.apply(d)
            } else {
              await b.apply(await a.state(await b.sv(), v2), v2)
            }
          }
        }
        let quiet = true
        for (const d of docs) if ((await d.takeUpdates()).length > 0) quiet = false
        if (quiet) break
      }
      // invariants
      const ref = docs[0]
      const refJson = canonStr(JSON.parse(await ref.json()))
      const refSv = svObj(await ref.sv())
      const refDs = await ref.ds()
      for (const d of docs) {
        const j = canonStr(JSON.parse(await d.json()))
        if (j !== refJson) throw new Error(`toJSON differs: ${ref.name}=${refJson}\n${d.name}=${j}`)
        const sv = svObj(await d.sv())
        if (sv !== refSv) throw new Error(`state vector differs: ${ref.name}=${refSv} ${d.name}=${sv}`)
        const ds = await d.ds()
        if (ds !== refDs) throw new Error(`delete set differs: ${ref.name}=${refDs}\n${d.name}=${ds}`)
        if (await d.pending()) throw new Error(`${d.name} still has pending structs`)
      }
      // encodeStateAsUpdate from either side loads in the other, to the same exact JSON text
      for (const src of docs) {
        for (const v2 of [false, true]) {
          const state = await src.state(new Uint8Array([0]), v2)
          const js = new JsDoc(999, gc)
          await js.apply(state, v2)
          const cpp = new CppDoc(peer, nextDocId++, 998, gc)
          await cpp.ready
          await cpp.apply(state, v2)
          const a = await js.json()
          const b = await cpp.json()
          await cpp.free()
          if (a !== b) throw new Error(`fresh load of ${src.name} state (v2=${v2}) differs:\n yjs=${a}\n cpp=${b}`)
          if (canonStr(JSON.parse(a)) !== refJson) throw new Error(`fresh load of ${src.name} state (v2=${v2}) lost content: ${a}`)
        }
      }
    }
    // doc-free utilities against yjs: merge all outboxes' states, sv from update, diff
    const states = []
    for (const d of docs) states.push(await d.state(new Uint8Array([0])))
    const merged = Y.mergeUpdates(states)
    if (canonStr(Object.fromEntries(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(merged)))) !== svObj(await docs[0].sv())) throw new Error('sv from merged update differs')
    const cppMerged = fromB64((await cppCall(peer, { cmd: 'merge', updates: states.map(toB64) })).update)
    const m1 = new Y.Doc(); Y.applyUpdate(m1, merged)
    const m2 = new Y.Doc(); Y.applyUpdate(m2, cppMerged)
    for (const m of [m1, m2]) { m.getArray('arr'); m.getMap('map'); m.getText('text'); m.getXmlFragment('xml') }
    if (JSON.stringify(m1.toJSON()) !== JSON.stringify(m2.toJSON())) throw new Error('C++ mergeUpdates loads differently from Y.mergeUpdates')
    const svCpp = fromB64((await cppCall(peer, { cmd: 'svu', update: toB64(merged) })).sv)
    if (svObj(svCpp) !== svObj(Y.encodeStateVectorFromUpdate(merged))) throw new Error('C++ encodeStateVectorFromUpdate differs')
    // partial updates: sv of one round's outbox merge, both implementations
    if (partials.length > 0) {
      const pm = Y.mergeUpdates(partials)
      const a1 = svObj(Y.encodeStateVectorFromUpdate(pm))
      const a2 = svObj(fromB64((await cppCall(peer, { cmd: 'svu', update: toB64(pm) })).sv))
      if (a1 !== a2) throw new Error(`C++ encodeStateVectorFromUpdate differs on a partial update: yjs ${a1} cpp ${a2}`)
    }
  } catch (e) {
    e.message = `seed ${seed}: ${e.message}` + (verbose ? '\nops:\n' + log.join('\n') : '')
    throw e
  } finally {
    for (const d of docs) if (d instanceof CppDoc) await d.free()
  }
}

const peer = new CppPeer(peerPath)
const seeds = single !== undefined ? [Number(single)] : Array.from({ length: nSeeds }, (_, i) => start + i)
const t0 = Date.now()
let failed = 0
for (const seed of seeds) {
  try {
    await runSeed(peer, seed)
  } catch (e) {
    failed++
    console.error(`FAIL ${e.stack || e}`)
    console.error(`replay: node ${process.argv[1]} --peer ${peerPath} --seed ${seed}`)
    if (failed >= 3) break
  }
}
await peer.close()
console.log(`${seeds.length} seeds, ${failed} failed, ${((Date.now() - t0) / 1000).toFixed(1)}s`)
process.exit(failed ? 1 : 0)
