// The page at /: the status line and one room at a time. The room and an
// optional token come from the form or the URL fragment
// (#room=team/notes&token=...; a fragment never reaches the server's logs).
import { startStatus } from './status.js'
import { RoomView } from './room.js'

const $ = id => document.querySelector(`[data-testid="${id}"]`)
let view = null

function open (room, token) {
  if (view) view.destroy()
  view = null
  const err = $('room-error')
  try {
    view = new RoomView(room, token)
    window.blobsyncPage = view // for scripts and tests: the provider, doc and fetched blobs
    err.hidden = true
  } catch (e) {
    $('room-view').hidden = false
    err.textContent = e.message
    err.hidden = false
  }
}

$('room-join').addEventListener('click', () => {
  const room = $('room-name').value.trim()
  const token = $('room-token').value.trim()
  if (room === '') return
  const frag = new URLSearchParams({ room })
  // The token stays out of the address bar unless it came from there.
  history.replaceState(null, '', `#${frag}`)
  open(room, token)
})
for (const id of ['room-name', 'room-token']) {
  $(id).addEventListener('keydown', e => { if (e.key === 'Enter') $('room-join').click() })
}

startStatus()
const frag = new URLSearchParams(location.hash.slice(1))
if (frag.get('room')) {
  $('room-name').value = frag.get('room')
  $('room-token').value = frag.get('token') ?? ''
  open(frag.get('room'), frag.get('token') ?? '')
}
