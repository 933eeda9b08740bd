// One room: a Y.Doc synced through the JS client (clients/js, bundled as
// /app/blobsync-client.js), the blobs its _blobRegistry lists, uploads by
// drop or file picker, and a text area bound to the Y.Text named `text`.
// File names and types live beside the registry in the Y.Map `files`
// (hash -> {filename, mimeType, size}): the registry holds only what servers
// need ({holders, size, chunkCount}), the app keeps its own BlobRefs.
import { createBlobSyncProvider, Y } from './blobsync-client.js'
import { formatBytes } from './status.js'

const $ = id => document.querySelector(`[data-testid="${id}"]`)
// Images up to this size are fetched at once for their preview.
const AUTO_PREVIEW_BYTES = 8 << 20
const PREVIEW_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp'])

function el (tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'testid') e.dataset.testid = v
    else if (k in e && typeof v !== 'string') e[k] = v
    else e.setAttribute(k, v)
  }
  e.append(...children)
  return e
}

export class RoomView {
  constructor (room, token) {
    this.room = room
    this.Y = Y
    this.doc = new Y.Doc()
    this.fetched = new Map() // hash -> Blob, once fetched here
    this.items = new Map() // hash -> {li, progress, ...}
    this.listeners = []
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    this.provider = createBlobSyncProvider({ url: `${scheme}://${location.host}/sync`, room, doc: this.doc, token: token || undefined })
    this.registry = this.doc.getMap('_blobRegistry')
    this.files = this.doc.getMap('files')
    this.text = this.doc.getText('text')

    $('room-view').hidden = false
    $('room-title').textContent = room
    $('blob-list').replaceChildren()
    $('upload-list').replaceChildren()
    const status = $('room-status')
    status.textContent = 'connecting'
    status.dataset.synced = 'false'
    this.provider.on('status', ({ status: s }) => { if (status.dataset.synced !== 'true' || s !== 'connected') status.textContent = s })
    this.provider.whenSynced.then(() => {
      status.textContent = 'synced'
      status.dataset.synced = 'true'
    }, e => this.error(e))

    const render = () => this.renderBlobs()
    this.registry.observe(render)
    this.files.observe(render)
    this.renderBlobs()
    this.bindText($('room-text'))
    this.bindDrop($('drop-zone'), $('file-input'))
  }

  on (target, type, fn) {
    target.addEventListener(type, fn)
    this.listeners.push(() => target.removeEventListener(type, fn))
  }

  error (e) {
    const err = $('room-error')
    err.textContent = e && e.message ? e.message : String(e)
    err.hidden = false
  }

  destroy () {
    for (const off of this.listeners) off()
    for (const item of this.items.values()) if (item.url) URL.revokeObjectURL(item.url)
    this.provider.destroy()
    this.doc.destroy()
  }

  // ---- Text: the textarea edits Y.Text by the smallest splice; remote
  // changes are applied to the textarea keeping the caret where it was.
  bindText (area) {
    area.value = this.text.toString()
    this.on(area, 'input', () => {
      const before = this.text.toString()
      const after = area.value
      let start = 0
      while (start < before.length && start < after.length && before[start] === after[start]) start++
      let endB = before.length
      let endA = after.length
      while (endB > start && endA > start && before[endB - 1] === after[endA - 1]) { endB--; endA-- }
      this.doc.transact(() => {
        if (endB > start) this.text.delete(start, endB - start)
        if (endA > start) this.text.insert(start, after.slice(start, endA))
      }, this)
    })
    this.text.observe(event => {
      if (event.transaction.origin === this) return
      let selStart = area.selectionStart
      let selEnd = area.selectionEnd
      let pos = 0
      for (const op of event.delta) {
        if (op.retain) pos += op.retain
        else if (op.insert) {
          const n = op.insert.length
          if (selStart >= pos) selStart += n
          if (selEnd >= pos) selEnd += n
          pos += n
        } else if (op.delete) {
          if (selStart > pos) selStart = Math.max(pos, selStart - op.delete)
          if (selEnd > pos) selEnd = Math.max(pos, selEnd - op.delete)
        }
      }
      area.value = this.text.toString()
      if (document.activeElement === area) area.setSelectionRange(selStart, selEnd)
    })
  }

  // ---- Uploads: drop or pick; each file is put through the provider (cache
  // first, then the blob channel) with a progress bar, then recorded in `files`.
  bindDrop (zone, input) {
    this.on(zone, 'dragover', e => { e.preventDefault(); zone.classList.add('over') })
    this.on(zone, 'dragleave', () => zone.classList.remove('over'))
    this.on(zone, 'drop', e => {
      e.preventDefault()
      zone.classList.remove('over')
      for (const f of e.dataTransfer?.files ?? []) this.upload(f)
    })
    this.on(input, 'change', () => {
      for (const f of input.files) this.upload(f)
      input.value = ''
    })
  }

  async upload (file) {
    const progress = el('progress', { testid: 'upload-progress', max: file.size || 1, value: 0 })
    const state = el('span', { class: 'meta', testid: 'upload-state' }, 'hashing')
    const li = el('li', { testid: 'upload-item' },
      el('span', { class: 'name' }, file.name || 'unnamed'), el('span', { class: 'meta' }, formatBytes(file.size)), state, progress)
    li.dataset.state = 'running'
    $('upload-list').append(li)
    try {
      const ref = await this.provider.putBlob(file, {
        filename: file.name, mimeType: file.type || 'application/octet-stream',
        onProgress: p => {
          state.textContent = p.phase === 'store' ? 'storing locally' : 'uploading'
          // Storing then uploading: each fills the bar once.
          if (p.total) progress.value = p.phase === 'store' ? p.loaded / 2 : (p.total + p.loaded) / 2
          progress.max = (p.total || file.size || 1)
        }
      })
      this.files.set(ref.hash, { filename: ref.filename, mimeType: ref.mimeType, size: ref.size })
      this.fetched.set(ref.hash, file)
      progress.value = progress.max
      state.textContent = 'uploaded'
      li.dataset.state = 'done'
      li.dataset.hash = ref.hash
      this.renderBlobs()
      return ref
    } catch (e) {
      state.textContent = `failed: ${e.message}`
      li.dataset.state = 'failed'
      throw e
    }
  }

  // ---- The room's blobs, from its registry; names from `files`.
  renderBlobs () {
    const list = $('blob-list')
    const keys = [...this.registry.keys()].filter(k => k.startsWith('sha256:')).sort()
    $('blob-empty').hidden = keys.length > 0
    for (const [hash, item] of this.items) {
      if (!this.registry.has(hash)) { item.li.remove(); if (item.url) URL.revokeObjectURL(item.url); this.items.delete(hash) }
    }
    for (const hash of keys) {
      const entry = this.registry.get(hash) ?? {}
      const info = this.files.get(hash) ?? {}
      let item = this.items.get(hash)
      if (!item) {
        item = this.newItem(hash)
        this.items.set(hash, item)
        list.append(item.li)
      }
      const size = typeof entry.size === 'number' ? entry.size : info.size
      item.name.textContent = info.filename || hash.slice(0, 19) + '…'
      const holders = Array.isArray(entry.holders) ? entry.holders.length : 0
      item.meta.textContent = `${size === undefined ? '?' : formatBytes(size)} · ${info.mimeType || 'unknown type'} · ${holders} holder${holders === 1 ? '' : 's'} · ${hash}`
      item.li.dataset.holders = String(holders)
      item.size = size
      item.mimeType = info.mimeType || ''
      if (this.fetched.has(hash) && !item.url) this.show(item, this.fetched.get(hash))
      else if (!item.url && !item.busy && PREVIEW_TYPES.has(item.mimeType) && size <= AUTO_PREVIEW_BYTES) this.fetch(item)
    }
  }

  newItem (hash) {
    const name = el('span', { class: 'name' })
    const meta = el('span', { class: 'meta' })
    const button = el('button', { type: 'button', testid: 'blob-fetch' }, 'Fetch')
    const progress = el('progress', { testid: 'blob-progress', max: 1, value: 0 })
    const li = el('li', { testid: 'blob-item' }, name, button, meta, progress)
    li.dataset.hash = hash
    li.dataset.state = 'listed'
    const item = { hash, li, name, meta, button, progress, url: null, busy: false }
    button.addEventListener('click', () => this.fetch(item))
    return item
  }

  // Fetches through the provider (cache, then the registry's holders), with progress.
  async fetch (item) {
    if (item.busy || item.url) return
    item.busy = true
    item.li.dataset.state = 'fetching'
    item.button.disabled = true
    try {
      const blob = await this.provider.getBlob(item.hash, {
        onProgress: p => { if (p.total) { item.progress.max = p.total; item.progress.value = p.loaded } }
      })
      if (blob === null) throw new Error('no holder listed')
      this.fetched.set(item.hash, blob)
      this.show(item, blob)
    } catch (e) {
      item.li.dataset.state = 'failed'
      item.meta.textContent += ` · fetch failed: ${e.message}`
    } finally {
      item.busy = false
      item.button.disabled = false
    }
  }

  show (item, blob) {
    item.progress.max = blob.size || 1
    item.progress.value = blob.size || 1
    const info = this.files.get(item.hash) ?? {}
    // A blob: URL has this page's origin, and types come from whoever wrote
    // the room: only raster images keep theirs (no HTML, no SVG, which could
    // run script here if opened); everything else is a plain download.
    const image = PREVIEW_TYPES.has(info.mimeType)
    item.shown = new Blob([blob], { type: image ? info.mimeType : 'application/octet-stream' })
    item.url = URL.createObjectURL(item.shown)
    const link = el('a', { testid: 'blob-link', href: item.url, download: info.filename || item.hash.slice(7) }, 'Save')
    item.button.replaceWith(link)
    if (image) item.li.append(el('img', { testid: 'blob-preview', src: item.url, alt: info.filename || '' }))
    item.li.dataset.state = 'fetched'
  }
}
