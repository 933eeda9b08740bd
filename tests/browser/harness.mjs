// Browser tests: headless Chromium (Debian's `chromium`, $BLOBSYNC_CHROMIUM
// to use another) driven by puppeteer-core, which never downloads a browser,
// against real `blobsync serve` processes (the sync and mesh harnesses'
// Server, started with $BLOBSYNC_BIN).
// Helpers only: the assertions are in page.test.mjs and mesh.test.mjs.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

if (!process.env.BLOBSYNC_SYNC_BIN && process.env.BLOBSYNC_BIN) process.env.BLOBSYNC_SYNC_BIN = process.env.BLOBSYNC_BIN
const mesh = await import('../interop/mesh/mesh_harness.mjs')
export const { Server, startMesh, meshUp, until, tmpDir, httpGet } = mesh

const require = createRequire(path.join(process.env.NODE_PATH || new URL('../node_modules', import.meta.url).pathname, 'x.js'))
const puppeteer = require('puppeteer-core')

export const CHROMIUM = process.env.BLOBSYNC_CHROMIUM || '/usr/bin/chromium'
export const tid = (id, extra = '') => `[data-testid="${id}"]${extra}`

// A fresh profile per browser, under a temp dir; the flags a container needs.
export async function launch () {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup (it installs Debian's chromium) or set BLOBSYNC_CHROMIUM`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blobsync-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: dir,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    protocolTimeout: 60000
  })
  return {
    browser,
    async close () {
      await browser.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

// A page in `context` (a browser or a browser context) that records console
// errors, uncaught exceptions and failed requests in `errors`.
export async function openPage (context, url) {
  const page = await context.newPage()
  const errors = []
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
  page.on('pageerror', e => errors.push(`uncaught: ${e.message}`))
  page.on('requestfailed', r => errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`))
  page.on('response', r => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`) })
  await page.goto(url, { waitUntil: 'load' })
  return { page, errors }
}

// The page's room view is synced (data-synced on room-status).
export async function roomSynced (page) {
  await page.waitForSelector(tid('room-status', '[data-synced="true"]'), { timeout: 20000 })
}
