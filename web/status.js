// The server's status line: GET /status every few seconds (counts only; the
// endpoint is public, docs/http.md "The web page").
const $ = id => document.querySelector(`[data-testid="${id}"]`)

export function formatBytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

async function refresh () {
  const err = $('status-error')
  try {
    const r = await fetch('/status', { cache: 'no-store' })
    if (!r.ok) throw new Error(`GET /status answered ${r.status}`)
    const s = await r.json()
    $('status-rooms').textContent = String(s.rooms)
    $('status-blobs').textContent = String(s.blobs)
    $('status-bytes').textContent = formatBytes(s.bytes)
    $('status-peers').textContent = s.peers === 0 ? 'none' : `${s.peersConnected} of ${s.peers} connected`
    $('status-version').textContent = s.version
    err.hidden = true
  } catch (e) {
    err.textContent = `status unavailable: ${e.message}`
    err.hidden = false
  }
}

export function startStatus (everyMs = 5000) {
  refresh()
  return setInterval(refresh, everyMs)
}
