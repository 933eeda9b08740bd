// Issue 19, must-show (browser): a two-server mesh, one browser context on
// each server's page. In the first, a 20 MB file made in the page
// (crypto.getRandomValues) is dropped on the page and put through the JS
// client; the second context (its own IndexedDB: nothing cached) sees it in
// the room's registry, fetches it through its own server and compares the
// bytes: SHA-256 in each page and in Node (GET /blobs from the other server).
// Text typed in one context's text area appears in the other's, both ways.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { launch, openPage, roomSynced, tid, startMesh, meshUp } from './harness.mjs'

const SIZE = 20 * 1000 * 1000
const ROOM = 'browser/mesh'
const servers = []
let chrome, a, b

before(async () => {
  await startMesh(servers, 2, { tag: 'browser-mesh' })
  await meshUp(servers)
  chrome = await launch()
  // Two contexts: separate storage, as two people on two machines.
  const ctxA = await chrome.browser.createBrowserContext()
  const ctxB = await chrome.browser.createBrowserContext()
  a = await openPage(ctxA, `http://${servers[0].addr}/#room=${encodeURIComponent(ROOM)}`)
  b = await openPage(ctxB, `http://${servers[1].addr}/#room=${encodeURIComponent(ROOM)}`)
  await Promise.all([roomSynced(a.page), roomSynced(b.page)])
})
after(async () => {
  await chrome?.close()
  for (const s of servers) await s.kill('SIGTERM')
})

const pageSha = (page, hash) => page.evaluate(async h => {
  const blob = window.blobsyncPage.fetched.get(h)
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
  return [...new Uint8Array(digest)].map(x => x.toString(16).padStart(2, '0')).join('')
}, hash)

test('a 20 MB file dropped on one server\'s page is fetched byte-identical on the other server\'s page', async () => {
  const t0 = Date.now()
  const made = await a.page.evaluate(async size => {
    const bytes = new Uint8Array(size)
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)))
    const digest = await crypto.subtle.digest('SHA-256', bytes)
    const hex = [...new Uint8Array(digest)].map(x => x.toString(16).padStart(2, '0')).join('')
    const dt = new DataTransfer()
    dt.items.add(new File([bytes], 'random.bin', { type: 'application/octet-stream' }))
    document.querySelector('[data-testid="drop-zone"]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    return hex
  }, SIZE)
  const hash = `sha256:${made}`
  await a.page.waitForSelector(tid('upload-item', `[data-state="done"][data-hash="${hash}"]`), { timeout: 45000 })
  const uploaded = Date.now()

  // The second page lists it from the registry (synced through its server), then fetches it.
  const item = tid('blob-item', `[data-hash="${hash}"]`)
  await b.page.waitForSelector(item, { timeout: 20000 })
  assert.ok((await b.page.$eval(item, e => e.textContent)).includes('random.bin'), 'the name comes with it (the room\'s files map)')
  await b.page.click(`${item} ${tid('blob-fetch')}`)
  await b.page.waitForSelector(`${item}[data-state="fetched"]`, { timeout: 45000 })
  const fetched = Date.now()
  assert.equal(await b.page.$eval(`${item} ${tid('blob-progress')}`, p => p.value === p.max && p.max === 20000000), true, 'progress bar full')
  assert.equal(await pageSha(b.page, hash), made, 'SHA-256 in the second page')

  // And in Node, from the second server's store (the mesh replicated it, or the page's fetch did).
  const r = await fetch(`http://${servers[1].addr}/blobs/${made}`)
  assert.equal(r.status, 200)
  const bytes = Buffer.from(await r.arrayBuffer())
  assert.equal(bytes.length, SIZE)
  assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), made, 'SHA-256 in Node')
  console.log(`# 20 MB: put in ${(uploaded - t0) / 1000} s, fetched on the other server's page in ${(fetched - uploaded) / 1000} s`)
})

test('the status line counts the peer, the blob and the room', async () => {
  await a.page.waitForFunction(s => document.querySelector(s).textContent === '1 of 1 connected', { timeout: 15000 }, tid('status-peers'))
  const st = await (await fetch(`http://${servers[1].addr}/status`)).json()
  assert.equal(st.peers, 1)
  assert.equal(st.peersConnected, 1)
  assert.ok(st.blobs >= 1 && st.bytes >= SIZE && st.rooms >= 1, JSON.stringify(st))
})

test('text typed in one page appears in the other, both ways', async () => {
  await a.page.click(tid('room-text'))
  await a.page.keyboard.type('hello from A. ')
  await b.page.waitForFunction(s => document.querySelector(s).value.includes('hello from A. '), { timeout: 20000 }, tid('room-text'))
  // B types at the end; A's caret stays where it was while the text grows.
  await b.page.click(tid('room-text'))
  await b.page.keyboard.press('End')
  await b.page.keyboard.type('and from B.')
  const both = 'hello from A. and from B.'
  await a.page.waitForFunction((s, v) => document.querySelector(s).value === v, { timeout: 20000 }, tid('room-text'), both)
  await a.page.keyboard.type('A again')
  await b.page.waitForFunction((s, v) => document.querySelector(s).value.includes(v), { timeout: 20000 }, tid('room-text'), 'A again')
  // The document is the server's too: both text areas hold the same Y.Text.
  const [ta, tb] = await Promise.all([a.page, b.page].map(p => p.evaluate(() => window.blobsyncPage.text.toString())))
  assert.equal(ta, tb)
})

test('no console errors in either page', () => {
  assert.deepEqual(a.errors, [])
  assert.deepEqual(b.errors, [])
})
