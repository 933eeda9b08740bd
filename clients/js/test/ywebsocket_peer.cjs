// A stock y-websocket client in its own process (its own yjs, from
// tests/node_modules through NODE_PATH): joins a room, inserts its line into
// the Y.Text 'text', sets an awareness state, and prints the text as JSON each
// time it changes. Usage: node ywebsocket_peer.cjs URL ROOM LINE
// Resolved from tests/node_modules, not from this file's folder (clients/js
// has its own yjs): one yjs for the doc and y-websocket, or sync breaks.
const path = require('node:path')
const req = require('node:module').createRequire(path.join(process.env.NODE_PATH, 'x.js'))
const Y = req('yjs')
const { WebsocketProvider } = req('y-websocket')
const WebSocket = req('ws')
const [url, room, line] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
provider.awareness.setLocalStateField('user', 'y-websocket')
const text = doc.getText('text')
text.observe(() => console.log('TEXT ' + JSON.stringify(text.toString())))
provider.on('sync', synced => {
  if (synced && !text.toString().includes(line)) text.insert(text.length, line + '\n')
})
process.stdin.on('end', () => { provider.destroy(); process.exit(0) })
process.stdin.resume()
