// The page at / (web/, embedded in the binary): it loads in headless
// Chromium with no console error under its own Content-Security-Policy,
// shows the server's status and opens a room; its responses carry the
// headers docs/http.md promises; every data-testid the page has is listed
// in clients/js/README.md and the other way round.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fs from 'node:fs'
import { launch, openPage, roomSynced, tid, Server, tmpDir } from './harness.mjs'

let server, chrome
before(async () => {
  server = await new Server(tmpDir('page'), ['--no-fsync']).start()
  chrome = await launch()
})
after(async () => {
  await chrome?.close()
  await server?.kill('SIGTERM')
})

test('GET / and /app/*: types, nosniff, CSP, ETag and 304, 404 for unknown names', async () => {
  const base = `http://${server.addr}`
  const page = await fetch(`${base}/`)
  const html = await page.text()
  assert.equal(page.status, 200)
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff')
  const csp = page.headers.get('content-security-policy')
  for (const d of ["default-src 'none'", "script-src 'self'", "img-src 'self' blob:", "connect-src 'self' ws: wss:", "frame-ancestors 'none'"])
    assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`)
  assert.equal(page.headers.get('cache-control'), 'no-cache')
  assert.ok(html.includes('data-testid="drop-zone"'))
  const etag = page.headers.get('etag')
  assert.match(etag, /^"[0-9a-f]{32}"$/)
  const again = await fetch(`${base}/`, { headers: { 'if-none-match': etag } })
  assert.equal(again.status, 304)
  for (const [p, type] of [['/app/app.js', 'text/javascript'], ['/app/room.js', 'text/javascript'],
    ['/app/blobsync-client.js', 'text/javascript'], ['/app/style.css', 'text/css']]) {
    const r = await fetch(base + p)
    const body = await r.text()
    assert.equal(r.status, 200, p)
    assert.equal(r.headers.get('content-type'), `${type}; charset=utf-8`, p)
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p)
    assert.ok(body.length > 0, p)
  }
  // The bundle is the real client, not the placeholder of a build without the npm tools.
  const bundle = await (await fetch(`${base}/app/blobsync-client.js`)).text()
  assert.ok(!bundle.includes('built without the JS client bundle'), 'run scripts/setup and rebuild: the bundle is a placeholder')
  assert.equal((await fetch(`${base}/app/nope.js`)).status, 404)
  assert.equal((await fetch(`${base}/app/../status`)).status !== 500, true)
  const st = await (await fetch(`${base}/status`)).json()
  for (const k of ['rooms', 'blobs', 'bytes', 'peers']) assert.equal(typeof st[k], 'number', `status.${k}`)
})

test('the page loads with no console error, shows the status and syncs a room', async () => {
  const { page, errors } = await openPage(chrome.browser, `http://${server.addr}/`)
  await page.waitForFunction(s => document.querySelector(s).textContent !== '…', { timeout: 10000 }, tid('status-blobs'))
  assert.match(await page.$eval(tid('status-blobs'), e => e.textContent), /^\d+$/)
  assert.equal(await page.$eval(tid('status-peers'), e => e.textContent), 'none')
  await page.type(tid('room-name'), 'page/one')
  await page.click(tid('room-join'))
  await roomSynced(page)
  assert.equal(await page.$eval(tid('room-title'), e => e.textContent), 'page/one')
  assert.equal(await page.$eval(tid('room-error'), e => e.hidden), true)
  // A small image dropped on the page: uploaded, listed with its name and previewed.
  const hash = await page.evaluate(async () => {
    // A 1x1 PNG, so the server's MIME rule sees a real image/png.
    const png = Uint8Array.from(atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='), c => c.charCodeAt(0))
    const dt = new DataTransfer()
    dt.items.add(new File([png], 'dot.png', { type: 'image/png' }))
    document.querySelector('[data-testid="drop-zone"]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    const digest = await crypto.subtle.digest('SHA-256', png)
    return 'sha256:' + [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')
  })
  await page.waitForSelector(tid('upload-item', `[data-state="done"][data-hash="${hash}"]`), { timeout: 20000 })
  await page.waitForSelector(`${tid('blob-item', `[data-hash="${hash}"]`)} ${tid('blob-preview')}`, { timeout: 20000 })
  assert.ok((await page.$eval(tid('blob-item', `[data-hash="${hash}"]`), e => e.textContent)).includes('dot.png'))
  const loaded = await page.$eval(tid('blob-preview'), img => img.complete && img.naturalWidth === 1)
  assert.ok(loaded, 'the preview image decoded')
  // A room member labels a blob text/html (or SVG): the page offers a download, never a
  // document in its own origin, and no preview.
  for (const label of ['text/html', 'image/svg+xml']) {
    const h = await page.evaluate(async label => {
      const p = window.blobsyncPage
      const ref = await p.provider.putBlob(new TextEncoder().encode(`<script>parent.pwned = true</script> ${label}`), { mimeType: 'text/plain', filename: 'x.html' })
      p.files.set(ref.hash, { filename: 'x.html', mimeType: label, size: ref.size })
      p.fetched.delete(ref.hash)
      return ref.hash
    }, label)
    const item = tid('blob-item', `[data-hash="${h}"]`)
    await page.waitForSelector(`${item} ${tid('blob-fetch')}`)
    await page.click(`${item} ${tid('blob-fetch')}`)
    await page.waitForSelector(`${item}[data-state="fetched"]`, { timeout: 20000 })
    assert.equal(await page.evaluate(h => window.blobsyncPage.items.get(h).shown.type, h), 'application/octet-stream', label)
    assert.equal(await page.$(`${item} ${tid('blob-preview')}`), null, `no preview for ${label}`)
  }
  await page.close()
  assert.deepEqual(errors, [], 'no console errors, uncaught exceptions or failed requests')
})

test('a room token typed in the form opens the room; a refused one is shown, not thrown', async () => {
  const SECRET = 'page-test-secret-0123456789abcdefgh'
  const locked = await new Server(tmpDir('page-locked'), ['--no-fsync', '--room-token-secret', SECRET]).start()
  const b64 = x => Buffer.from(JSON.stringify(x)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'HS256', typ: 'blobsync-room+jwt' })}.${b64({ aud: 'blobsync:room', rooms: ['a/*'], scope: 'write', iat: now - 5, exp: now + 600 })}`
  const token = `${input}.${crypto.createHmac('sha256', SECRET).update(input).digest('base64url')}`
  try {
    const ok = await openPage(chrome.browser, `http://${locked.addr}/`)
    await ok.page.type(tid('room-name'), 'a/b')
    await ok.page.type(tid('room-token'), token)
    await ok.page.click(tid('room-join'))
    await roomSynced(ok.page)
    assert.ok(!(await ok.page.evaluate(() => location.href)).includes(token), 'a typed token stays out of the address bar')
    // And the token writes: a dropped file is uploaded through the blob channel.
    await ok.page.evaluate(() => {
      const dt = new DataTransfer()
      dt.items.add(new File([crypto.getRandomValues(new Uint8Array(60000))], 'r.bin'))
      document.querySelector('[data-testid="drop-zone"]').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    })
    await ok.page.waitForSelector(tid('upload-item', '[data-state="done"]'), { timeout: 20000 })
    await ok.page.waitForSelector(tid('blob-item', '[data-holders="1"]'), { timeout: 20000 })
    await ok.page.close()
    assert.deepEqual(ok.errors, [])

    const { page, errors } = await openPage(chrome.browser, `http://${locked.addr}/#room=a/b&token=not-a-token`)
    await page.waitForSelector(tid('room-error', ':not([hidden])'), { timeout: 20000 })
    assert.match(await page.$eval(tid('room-error'), e => e.textContent), /refused/)
    await page.close()
    assert.deepEqual(errors.filter(e => !e.includes('WebSocket')), [], 'only the refused WebSocket is reported')
  } finally {
    await locked.kill('SIGTERM')
  }
})

test('every data-testid of the page is listed in clients/js/README.md, and only those', () => {
  const web = new URL('../../web/', import.meta.url)
  const used = new Set()
  for (const f of fs.readdirSync(web).filter(f => /\.(html|js)$/.test(f))) {
    const text = fs.readFileSync(new URL(f, web), 'utf8')
    for (const m of text.matchAll(/data-testid="([a-z-]+)"|testid: '([a-z-]+)'/g)) used.add(m[1] || m[2])
  }
  // The list lives in clients/js/README.md ("## Web page test ids").
  const section = (text, heading) => {
    const start = text.indexOf(heading)
    if (start < 0) return ''
    const end = text.indexOf('\n## ', start + 1)
    return text.slice(start, end < 0 ? undefined : end)
  }
  const ids = text => new Set([...text.matchAll(/^\| `([a-z-]+)` \|/gm)].map(m => m[1]))
  const readmeUrl = new URL('../../clients/js/README.md', import.meta.url)
  const readme = fs.existsSync(readmeUrl) ? fs.readFileSync(readmeUrl, 'utf8') : ''
  const listed = ids(section(readme, '## Web page test ids'))
  assert.ok(listed.size > 0, 'clients/js/README.md ("## Web page test ids") lists the test ids')
  assert.deepEqual([...used].sort(), [...listed].sort())
})
